"""Poll: one ``retrieve`` per task; the adaptive schedule sets the next one. Past the deadline
the job is cancelled upstream and fails with ``deadline_exceeded``."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import openai
from sqlalchemy.orm import Session

from longhaul.core import upstream
from longhaul.core.config import Settings
from longhaul.core.jobs.common import (
    RUNNING,
    Followups,
    hand_to_finalize,
    next_poll_keeping_wake,
    poll_policy,
    release,
    retry_policy,
    upstream_finished,
)
from longhaul.core.jobs.state import claim
from longhaul.core.models import TERMINAL, Job, utcnow

log = logging.getLogger(__name__)


def poll_job(
    session: Session,
    job_id: str,
    *,
    client: openai.OpenAI,
    settings: Settings,
    token: str | None = None,
) -> Followups:
    """One ``retrieve``. Not terminal → next poll by the adaptive schedule; past the deadline →
    cancel upstream and fail with a timeout."""
    # Cleared while the poll runs, so a wake-up arriving meanwhile is not overwritten (below).
    claimed = claim(
        session,
        job_id,
        RUNNING,
        lease_seconds=settings.lease_seconds,
        token=token,
        next_poll_at=None,
    )
    if claimed is None:
        return []
    job, owner = claimed
    session.commit()
    now = utcnow()
    if job.deadline_at <= now:
        return _deadline(session, job, owner, client, now)
    try:
        result = upstream.retrieve(client, job.upstream_response_id or "")
    except Exception as exc:
        return _poll_failed(session, job, owner, exc, settings)
    body, now = result.body, utcnow()
    status = body.get("status")
    if status in TERMINAL:
        return upstream_finished(session, job, body, now, owner=owner)
    delay = poll_policy(settings).next_delay(
        job.poll_count + 1, result.headers.get("openai-poll-after-ms")
    )
    release(
        session,
        job.id,
        owner,
        upstream_status=status,
        poll_count=job.poll_count + 1,
        next_poll_at=next_poll_keeping_wake(now + timedelta(seconds=delay)),
    )
    session.commit()
    return []


def _poll_failed(
    session: Session, job: Job, owner: str, exc: Exception, settings: Settings
) -> Followups:
    info = upstream.classify(exc)
    now = utcnow()
    if info.transient:
        delay = max(
            retry_policy(settings).delay(1, info.retry_after),
            poll_policy(settings).next_delay(job.poll_count),
        )
        release(
            session,
            job.id,
            owner,
            poll_count=job.poll_count + 1,
            next_poll_at=next_poll_keeping_wake(now + timedelta(seconds=delay)),
        )
        session.commit()
        return []
    # The upstream no longer knows the response (404: expired/deleted) or refuses: fail the job.
    log.warning("poll %s: permanent error %s", job.id, info.error)
    return hand_to_finalize(
        session,
        job.id,
        RUNNING,
        now=now,
        owner=owner,
        reason="poll_failed",
        error=info.error,
        poll_count=job.poll_count + 1,
    )


def _deadline(
    session: Session, job: Job, owner: str, client: openai.OpenAI, now: datetime
) -> Followups:
    body: dict[str, Any] | None = None
    try:
        body = upstream.cancel(client, job.upstream_response_id or "").body
    except Exception as exc:  # best effort: the job fails with a timeout either way
        log.warning("deadline cancel of %s failed: %s", job.id, exc)
    seconds = int((job.deadline_at - job.created_at).total_seconds())
    err = {
        "code": "deadline_exceeded",
        "type": "timeout",
        "message": f"The job did not finish within its deadline of {seconds} s and was "
        "cancelled upstream.",
    }
    return hand_to_finalize(
        session,
        job.id,
        RUNNING,
        now=now,
        owner=owner,
        reason="deadline",
        error=err,
        response_body=body,
        upstream_status=(body or {}).get("status"),
    )

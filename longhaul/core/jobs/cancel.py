"""Cancel: a queued job never reaches upstream; a running one is cancelled upstream and the
upstream's answer (it may have finished first) decides the outcome."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import openai
from sqlalchemy import update
from sqlalchemy.orm import Session

from longhaul.core import failures, metrics, upstream
from longhaul.core.config import Settings
from longhaul.core.jobs.common import (
    Followups,
    hand_to_finalize,
    release,
    upstream_finished,
)
from longhaul.core.jobs.lifecycle import UPSTREAM_TERMINAL, Status
from longhaul.core.jobs.state import claim, transition
from longhaul.core.models import Job, utcnow

log = logging.getLogger(__name__)


def request_cancel(session: Session, job: Job) -> Followups:
    """User cancel. Queued: never reaches upstream. Running: cancel upstream, then confirm.
    Each branch is a compare-and-set; if the job moved on meanwhile, look again."""
    for _ in range(3):
        now = utcnow()
        if job.status == Status.QUEUED:
            followups = hand_to_finalize(
                session,
                job.id,
                [Status.QUEUED],
                now=now,
                reason="cancel_requested",
                cancel_requested_at=now,
                error=None,
            )
            if followups:
                return followups
        elif job.status == Status.SUBMITTING:
            # The submit step sees the flag once the upstream id is stored, and cancels then.
            marked = session.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == Status.SUBMITTING)
                .values(cancel_requested_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if marked:
                return []
        elif job.status == Status.IN_PROGRESS:
            started = start_cancel(session, job, now, commit=False)
            if started:
                return started
        else:
            return []  # already cancelling, finalizing or finished: cancel is idempotent
        session.refresh(job)
    return []


def start_cancel(session: Session, job: Job, now: datetime, commit: bool = True) -> Followups:
    done = transition(
        session,
        job.id,
        [Status.IN_PROGRESS],
        Status.CANCELLING,
        now=now,
        cancel_requested_at=job.cancel_requested_at or now,
        next_poll_at=now + timedelta(seconds=5),
    )
    if commit:
        session.commit()
    return ["cancel"] if done else []


def cancel_job(
    session: Session,
    job_id: str,
    *,
    client: openai.OpenAI,
    settings: Settings,
    token: str | None = None,
) -> Followups:
    """Send the upstream cancel; the response's status decides (it may have finished first)."""
    claimed = claim(
        session, job_id, [Status.CANCELLING], lease_seconds=settings.lease_seconds, token=token
    )
    if claimed is None:
        return []
    job, owner = claimed
    session.commit()
    try:
        result = upstream.cancel(client, job.upstream_response_id or "")
    except Exception as exc:
        metrics.upstream_error(exc)
        info = failures.classify(exc)
        log.warning("cancel %s: %s; confirming by polling", job.id, info.error)
        release(session, job.id, owner, next_poll_at=utcnow() + timedelta(seconds=1))
        session.commit()
        return []
    body, now = result.body, utcnow()
    if body.get("status") in UPSTREAM_TERMINAL:
        return upstream_finished(session, job, body, now, owner=owner)
    release(
        session,
        job.id,
        owner,
        upstream_status=body.get("status"),
        next_poll_at=now + timedelta(seconds=1),
    )
    session.commit()
    return []

"""Submit: one non-idempotent ``responses.create`` per attempt, after ``submitting`` is
committed (DESIGN §2.5); transient errors go back to ``queued`` with backoff."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import openai
from sqlalchemy.orm import Session

from longhaul.core import failures, metrics, upstream
from longhaul.core.config import Settings
from longhaul.core.jobs.cancel import start_cancel
from longhaul.core.jobs.common import (
    Followups,
    hand_to_finalize,
    poll_policy,
    retry_policy,
)
from longhaul.core.jobs.lifecycle import UPSTREAM_TERMINAL, Status
from longhaul.core.jobs.state import appended_history, claim, history_entry, transition
from longhaul.core.models import Job, utcnow
from longhaul.core.streams.policy import relay_creates

log = logging.getLogger(__name__)


def upstream_body(job: Job) -> dict[str, Any]:
    body = dict(job.request_body)
    body["background"] = True
    body["store"] = True
    body.pop("stream", None)  # a worker's create never streams; the relay's does (core/streams)
    body["metadata"] = {**(body.get("metadata") or {}), "longhaul_job_id": job.id}
    return body


def submit_job(
    session: Session,
    job_id: str,
    *,
    client: openai.OpenAI,
    settings: Settings,
    token: str | None = None,
) -> Followups:
    now = utcnow()
    if relay_creates(session, job_id, settings, token):
        return []  # a streaming job: the relay's create is its stream
    # One statement takes the lease and moves the job to `submitting` (if its deadline holds).
    claimed = claim(
        session,
        job_id,
        [Status.QUEUED],
        lease_seconds=settings.lease_seconds,
        token=token,
        now=now,
        only_if=Job.deadline_at > now,
        status=Status.SUBMITTING,
        submit_attempts=Job.submit_attempts + 1,
        state_history=appended_history(history_entry(Status.SUBMITTING, now)),
        updated_at=now,
    )
    if claimed is None:
        return _past_deadline_before_submit(session, job_id, now)
    job, owner = claimed
    session.commit()  # committed as `submitting` before the (non-idempotent) create
    try:
        result = upstream.create(client, upstream_body(job))
    except Exception as exc:  # classified below; nothing escapes unrecorded
        return _submit_failed(session, job, owner, exc, settings)

    body, now = result.body, utcnow()
    status = body.get("status")
    created: dict[str, Any] = dict(
        upstream_response_id=body.get("id"),
        upstream_status=status,
        submitted_at=now,
        service_tier=body.get("service_tier"),
    )
    if status in UPSTREAM_TERMINAL:  # finished at once: straight to finalize, one statement
        return hand_to_finalize(
            session,
            job_id,
            [Status.SUBMITTING],
            now=now,
            owner=owner,
            via=Status.IN_PROGRESS,
            response_body=body,
            upstream_finished_at=now,
            **created,
        )
    delay = poll_policy(settings).next_delay(0, result.headers.get("openai-poll-after-ms"))
    running = transition(
        session,
        job_id,
        [Status.SUBMITTING],
        Status.IN_PROGRESS,
        now=now,
        owned_by=owner,
        next_poll_at=now + timedelta(seconds=delay),
        lease_until=None,
        lease_owner=None,
        **created,
    )
    session.commit()
    if running is not None and running.cancel_requested_at is not None:
        return start_cancel(session, running, now)
    return []


def _past_deadline_before_submit(session: Session, job_id: str, now: datetime) -> Followups:
    job = session.get(Job, job_id)
    if job is None or job.status != Status.QUEUED or job.deadline_at > now:
        return []
    err = {
        "code": "deadline_exceeded",
        "message": "The job's deadline passed before it could be submitted upstream.",
        "type": "timeout",
    }
    return hand_to_finalize(session, job_id, [Status.QUEUED], now=now, reason="deadline", error=err)


def _submit_failed(
    session: Session, job: Job, owner: str, exc: Exception, settings: Settings
) -> Followups:
    metrics.upstream_error(exc)
    info = failures.classify(exc)
    now = utcnow()
    dup = job.possibly_duplicated or info.maybe_sent
    if info.transient and job.submit_attempts < settings.submit_max_attempts:
        delay = retry_policy(settings).delay(job.submit_attempts, info.retry_after)
        log.warning("submit %s: transient %s, retrying in %.1fs", job.id, info.error, delay)
        requeued = transition(
            session,
            job.id,
            [Status.SUBMITTING],
            Status.QUEUED,
            now=now,
            owned_by=owner,
            reason=str(info.error.get("code")),
            error=info.error,
            possibly_duplicated=dup,
            next_poll_at=now + timedelta(seconds=delay),
            lease_until=None,
            lease_owner=None,
        )
        session.commit()
        if requeued is not None and requeued.cancel_requested_at is not None:
            # Cancelled while this attempt was in flight: it never reached upstream; stop here.
            return hand_to_finalize(
                session, job.id, [Status.QUEUED], now=now, reason="cancel_requested", error=None
            )
        return []
    log.warning("submit %s: failed permanently: %s", job.id, info.error)
    return hand_to_finalize(
        session,
        job.id,
        [Status.SUBMITTING],
        now=now,
        owner=owner,
        reason="submit_failed",
        error=info.error,
        possibly_duplicated=dup,
    )

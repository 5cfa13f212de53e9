"""Submit, poll and cancel: one upstream call each, driven by the database.

Each function commits at its own defined points (the upstream call must follow a committed
``submitting``), and returns the follow-up steps (``"finalize"``, ``"cancel"``) that the caller
enqueues after commit. Every function may run twice: claims and transitions are compare-and-set.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import openai
from sqlalchemy import update
from sqlalchemy.orm import Session

from longhaul.core import upstream
from longhaul.core.config import Settings
from longhaul.core.jobs.policy import PollPolicy, RetryPolicy
from longhaul.core.jobs.state import claim, transition
from longhaul.core.models import TERMINAL, Job, utcnow

log = logging.getLogger(__name__)

Followups = list[str]
RUNNING = ("in_progress", "cancelling")


def poll_policy(s: Settings) -> PollPolicy:
    return PollPolicy(s.poll_initial_seconds, s.poll_backoff_factor, s.poll_max_seconds)


def retry_policy(s: Settings) -> RetryPolicy:
    return RetryPolicy(s.retry_base_seconds, s.retry_max_seconds)


def upstream_body(job: Job) -> dict[str, Any]:
    body = dict(job.request_body)
    body["background"] = True
    body["store"] = True
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
    if _past_deadline_before_submit(session, job_id, now):
        return []
    claimed = claim(
        session, job_id, ["queued"], lease_seconds=settings.lease_seconds, token=token, now=now
    )
    if claimed is None:
        return []
    queued, owner = claimed
    job = transition(
        session,
        job_id,
        ["queued"],
        "submitting",
        now=now,
        owned_by=owner,
        submit_attempts=queued.submit_attempts + 1,
    )
    session.commit()  # committed as `submitting` before the (non-idempotent) create
    if job is None:
        return []
    try:
        result = upstream.create(client, upstream_body(job))
    except Exception as exc:  # classified below; nothing escapes unrecorded
        return _submit_failed(session, job, owner, exc, settings)

    body, now = result.body, utcnow()
    status = body.get("status")
    delay = poll_policy(settings).next_delay(0, result.headers.get("openai-poll-after-ms"))
    running = transition(
        session,
        job_id,
        ["submitting"],
        "in_progress",
        now=now,
        owned_by=owner,
        upstream_response_id=body.get("id"),
        upstream_status=status,
        submitted_at=now,
        next_poll_at=now + timedelta(seconds=delay),
        lease_until=None,
        lease_owner=None,
        service_tier=body.get("service_tier"),
    )
    session.commit()
    if running is None:
        return []
    if running.cancel_requested_at is not None:
        return _start_cancel(session, running, now)
    if status in TERMINAL:
        return _to_finalizing(session, running, body, now)
    return []


def _past_deadline_before_submit(session: Session, job_id: str, now: datetime) -> bool:
    job = session.get(Job, job_id)
    if job is None or job.status != "queued" or job.deadline_at > now:
        return False
    err = {
        "code": "deadline_exceeded",
        "message": "The job's deadline passed before it could be submitted upstream.",
        "type": "timeout",
    }
    job2 = transition(
        session,
        job_id,
        ["queued"],
        "finalizing",
        now=now,
        reason="deadline",
        error=err,
        next_poll_at=now,
        lease_until=None,
        lease_owner=None,
    )
    session.commit()
    return job2 is not None


def _submit_failed(
    session: Session, job: Job, owner: str, exc: Exception, settings: Settings
) -> Followups:
    info = upstream.classify(exc)
    now = utcnow()
    dup = job.possibly_duplicated or info.maybe_sent
    if info.transient and job.submit_attempts < settings.submit_max_attempts:
        delay = retry_policy(settings).delay(job.submit_attempts, info.retry_after)
        log.warning("submit %s: transient %s, retrying in %.1fs", job.id, info.error, delay)
        transition(
            session,
            job.id,
            ["submitting"],
            "queued",
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
        return []
    log.warning("submit %s: failed permanently: %s", job.id, info.error)
    failed = transition(
        session,
        job.id,
        ["submitting"],
        "finalizing",
        now=now,
        owned_by=owner,
        reason="submit_failed",
        error=info.error,
        possibly_duplicated=dup,
        next_poll_at=now,
        lease_until=None,
        lease_owner=None,
    )
    session.commit()
    return ["finalize"] if failed else []


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
    claimed = claim(session, job_id, RUNNING, lease_seconds=settings.lease_seconds, token=token)
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
        return _to_finalizing(session, job, body, now, owner=owner)
    delay = poll_policy(settings).next_delay(
        job.poll_count + 1, result.headers.get("openai-poll-after-ms")
    )
    _release(
        session,
        job.id,
        owner,
        upstream_status=status,
        poll_count=job.poll_count + 1,
        next_poll_at=now + timedelta(seconds=delay),
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
        _release(
            session,
            job.id,
            owner,
            poll_count=job.poll_count + 1,
            next_poll_at=now + timedelta(seconds=delay),
        )
        session.commit()
        return []
    # The upstream no longer knows the response (404: expired/deleted) or refuses: fail the job.
    log.warning("poll %s: permanent error %s", job.id, info.error)
    done = transition(
        session,
        job.id,
        RUNNING,
        "finalizing",
        now=now,
        owned_by=owner,
        reason="poll_failed",
        error=info.error,
        poll_count=job.poll_count + 1,
        next_poll_at=now,
        lease_until=None,
        lease_owner=None,
    )
    session.commit()
    return ["finalize"] if done else []


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
    done = transition(
        session,
        job.id,
        RUNNING,
        "finalizing",
        now=now,
        owned_by=owner,
        reason="deadline",
        error=err,
        response_body=body,
        upstream_status=(body or {}).get("status"),
        next_poll_at=now,
        lease_until=None,
        lease_owner=None,
    )
    session.commit()
    return ["finalize"] if done else []


def _to_finalizing(
    session: Session, job: Job, body: dict[str, Any], now: datetime, owner: str | None = None
) -> Followups:
    done = transition(
        session,
        job.id,
        RUNNING,
        "finalizing",
        now=now,
        owned_by=owner,
        response_body=body,
        upstream_status=body.get("status"),
        upstream_finished_at=now,
        poll_count=job.poll_count + (1 if owner else 0),
        next_poll_at=now + timedelta(seconds=30),
        lease_until=None,
        lease_owner=None,
    )
    session.commit()
    return ["finalize"] if done else []


def _release(session: Session, job_id: str, owner: str, **values: Any) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner)
        .values(lease_until=None, lease_owner=None, updated_at=utcnow(), **values)
    )


def request_cancel(session: Session, job: Job) -> Followups:
    """User cancel. Queued: never reaches upstream. Running: cancel upstream, then confirm.
    Each branch is a compare-and-set; if the job moved on meanwhile, look again."""
    for _ in range(3):
        now = utcnow()
        if job.status == "queued":
            done = transition(
                session,
                job.id,
                ["queued"],
                "finalizing",
                now=now,
                reason="cancel_requested",
                cancel_requested_at=now,
                next_poll_at=now,
                error=None,
                lease_until=None,
                lease_owner=None,
            )
            if done is not None:
                return ["finalize"]
        elif job.status == "submitting":
            # The submit step sees the flag once the upstream id is stored, and cancels then.
            marked = session.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == "submitting")
                .values(cancel_requested_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if marked:
                return []
        elif job.status == "in_progress":
            started = _start_cancel(session, job, now, commit=False)
            if started:
                return started
        else:
            return []  # already cancelling, finalizing or finished: cancel is idempotent
        session.refresh(job)
    return []


def _start_cancel(session: Session, job: Job, now: datetime, commit: bool = True) -> Followups:
    done = transition(
        session,
        job.id,
        ["in_progress"],
        "cancelling",
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
        session, job_id, ["cancelling"], lease_seconds=settings.lease_seconds, token=token
    )
    if claimed is None:
        return []
    job, owner = claimed
    session.commit()
    try:
        result = upstream.cancel(client, job.upstream_response_id or "")
    except Exception as exc:
        info = upstream.classify(exc)
        log.warning("cancel %s: %s; confirming by polling", job.id, info.error)
        _release(session, job.id, owner, next_poll_at=utcnow() + timedelta(seconds=1))
        session.commit()
        return []
    body, now = result.body, utcnow()
    if body.get("status") in TERMINAL:
        return _to_finalizing(session, job, body, now, owner=owner)
    _release(
        session,
        job.id,
        owner,
        upstream_status=body.get("status"),
        next_poll_at=now + timedelta(seconds=1),
    )
    session.commit()
    return []

"""What submit, poll and cancel share: the policies built from settings, and the two ways a step
ends (hand the job to finalize, or release its lease with the next due time). Nothing here
commits: the step's driver does (``driver.drive``), and queued messages leave after it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, update
from sqlalchemy.orm import Session

from longhaul.core import messages
from longhaul.core.config import Settings
from longhaul.core.jobs.lifecycle import RUNNING, Status
from longhaul.core.jobs.policy import PollPolicy, RetryPolicy
from longhaul.core.jobs.state import transition
from longhaul.core.models import Job, utcnow


def poll_policy(s: Settings) -> PollPolicy:
    """With inbound webhooks configured the webhook wakes the job and polling is a slow safety
    net; the first poll stays early, for a job that ends before its upstream id is stored (its
    webhook then finds no job)."""
    if s.openai_webhook_secret:
        slow = max(s.poll_webhook_seconds, s.poll_initial_seconds)
        return PollPolicy(slow, 1.0, slow, first=s.poll_initial_seconds)
    return PollPolicy(s.poll_initial_seconds, s.poll_backoff_factor, s.poll_max_seconds)


def retry_policy(s: Settings) -> RetryPolicy:
    return RetryPolicy(s.retry_base_seconds, s.retry_max_seconds)


def hand_to_finalize(
    session: Session,
    job_id: str,
    from_states: tuple[str, ...] | list[str],
    *,
    now: datetime,
    owner: str | None = None,
    reason: str | None = None,
    **values: Any,
) -> bool:
    """Move the job to ``finalizing`` and queue its hand-over to finalize for after the commit
    (the hand-overs of one commit leave as one batch message). Should that message be lost,
    ``next_poll_at`` lets the sweep send it again in 30 s (once the finalize queue holds nothing
    older)."""
    done = transition(
        session,
        job_id,
        from_states,
        Status.FINALIZING,
        now=now,
        owned_by=owner,
        reason=reason,
        next_poll_at=now + timedelta(seconds=30),
        lease_until=None,
        lease_owner=None,
        **values,
    )
    if done is None:
        return False
    messages.send_after_commit(session, messages.finalize_handover(job_id))
    return True


def upstream_finished(
    session: Session, job: Job, body: dict[str, Any], now: datetime, owner: str | None = None
) -> bool:
    """The upstream response is terminal: keep it and hand the job to finalize."""
    return hand_to_finalize(
        session,
        job.id,
        RUNNING,
        now=now,
        owner=owner,
        response_body=body,
        upstream_status=body.get("status"),
        upstream_finished_at=now,
        poll_count=job.poll_count + (1 if owner else 0),
    )


def release(session: Session, job_id: str, owner: str, **values: Any) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner)
        .values(lease_until=None, lease_owner=None, updated_at=utcnow(), **values)
    )


def next_poll_keeping_wake(due: Any, leased_until: datetime | None = None) -> Any:
    """``next_poll_at`` for a poll that ends: ``due``, unless a wake-up (an inbound webhook)
    set an earlier time while the poll ran. The claim set ``next_poll_at`` to None or to the end
    of its lease (``leased_until``), so any earlier value found now was written by a wake-up."""
    if leased_until is None:
        return func.least(func.coalesce(Job.next_poll_at, due), due)
    return case((Job.next_poll_at < leased_until, func.least(Job.next_poll_at, due)), else_=due)

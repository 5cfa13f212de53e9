"""Periodic work, safe to run twice at once: claims use ``FOR UPDATE SKIP LOCKED`` and leases."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from longhaul.core.jobs.state import history_entry
from longhaul.core.models import ACTIVE, Job, utcnow

# What the sweep sends for a due job in each state.
STEP_FOR_STATUS = {
    "queued": "submit",
    "in_progress": "poll",
    "cancelling": "cancel",
    "finalizing": "finalize",
}


def claim_due(
    session: Session, *, lease_seconds: int, limit: int, now: datetime | None = None
) -> list[tuple[str, str, str]]:
    """Lease due jobs (``next_poll_at`` passed, lease free) and return (step, job id, token)
    for each; the caller commits, then enqueues. A job whose task dies keeps its lease until it
    expires and then becomes due again: that is how in-flight work survives a killed worker."""
    now = now or utcnow()
    due = (
        select(Job.id)
        .where(
            Job.next_poll_at <= now,
            Job.status.in_(list(STEP_FOR_STATUS)),
            or_(Job.lease_until.is_(None), Job.lease_until < now),
            Job.deleted_at.is_(None),
        )
        .order_by(Job.next_poll_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    token = secrets.token_hex(8)
    rows = session.execute(
        update(Job)
        .where(Job.id.in_(due.scalar_subquery()))
        .values(lease_owner=token, lease_until=now + timedelta(seconds=lease_seconds))
        .returning(Job.id, Job.status)
        .execution_options(synchronize_session=False)
    ).all()
    return [(STEP_FOR_STATUS[status], job_id, token) for job_id, status in rows]


def reconcile(session: Session, *, lease_seconds: int, now: datetime | None = None) -> int:
    """Repair what the sweep cannot see. A job stuck in ``submitting`` past its lease died during
    the create call: the upstream may or may not have the response, so it goes back to ``queued``
    flagged ``possibly_duplicated``. An active job without a ``next_poll_at`` gets one."""
    now = now or utcnow()
    stuck = (
        session.execute(
            select(Job)
            .where(Job.status == "submitting", Job.lease_until < now)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    for job in stuck:
        job.status = "queued"
        job.possibly_duplicated = True
        job.next_poll_at = now
        job.lease_until = None
        job.lease_owner = None
        job.state_history = [
            *job.state_history,
            history_entry("queued", now, reason="submit_interrupted"),
        ]
    orphans = session.execute(  # type: ignore[attr-defined]
        update(Job)
        .where(
            Job.status.in_(list(ACTIVE - {"submitting"})),
            Job.next_poll_at.is_(None),
            Job.deleted_at.is_(None),
        )
        .values(next_poll_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.flush()
    return len(stuck) + (orphans or 0)

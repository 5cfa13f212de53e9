"""Compare-and-set transitions and leases. Nothing here commits: the caller owns the transaction."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from longhaul.core import metrics
from longhaul.core.jobs.lifecycle import check_path
from longhaul.core.models import Job, utcnow


def history_entry(status: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {"status": status, "at": at.isoformat(), **{k: v for k, v in extra.items() if v}}


def appended_history(*entries: dict[str, Any]) -> Any:
    """``state_history`` with ``entries`` appended, in the UPDATE itself."""
    return Job.state_history.op("||")(func.cast(literal(list(entries), JSONB), JSONB))


# RETURNING rows refresh the session's copy of the job: no second SELECT after an UPDATE.
RETURNED = {"synchronize_session": False, "populate_existing": True}


def transition(
    session: Session,
    job_id: str,
    from_states: Iterable[str],
    to_state: str,
    *,
    now: datetime | None = None,
    reason: str | None = None,
    owned_by: str | None = None,
    via: str | None = None,
    history_error: dict[str, Any] | None = None,
    **values: Any,
) -> Job | None:
    """Move ``job_id`` to ``to_state`` only if it is in one of ``from_states`` (and, when given,
    still leased by ``owned_by``). ``via`` records a state passed through on the way (one
    statement for two moves); ``history_error`` is kept in the history entry. Returns the
    updated job, or None if someone else won. A move the lifecycle table lacks raises
    ``IllegalTransition`` before anything is written."""
    from_states = list(from_states)
    check_path(from_states, *((via, to_state) if via else (to_state,)))
    now = now or utcnow()
    entries = [history_entry(via, now)] if via else []
    entries.append(history_entry(to_state, now, reason=reason, error=history_error))
    stmt = (
        update(Job)
        .where(Job.id == job_id, Job.status.in_(from_states))
        .values(
            status=to_state,
            updated_at=now,
            state_history=appended_history(*entries),
            **values,
        )
        .returning(Job)
        .execution_options(**RETURNED)
    )
    if owned_by is not None:
        stmt = stmt.where(Job.lease_owner == owned_by)
    job = session.execute(stmt).scalar_one_or_none()
    if job is not None:
        for state in (via, to_state) if via else (to_state,):
            metrics.job_transition(job, state, values)
    return job


def claim(
    session: Session,
    job_id: str,
    statuses: Iterable[str],
    *,
    lease_seconds: int,
    token: str | None = None,
    now: datetime | None = None,
    only_if: Any = None,
    **values: Any,
) -> tuple[Job, str] | None:
    """Start the job's lease: the step begins now. With ``token`` (the sweep's dispatch mark)
    only the message carrying it may start, whatever its wait in the queue; without one the job
    must be neither leased nor reserved. The lease gets a fresh owner, so a redelivered copy of
    the same message finds nothing to claim. Returns (job, owner) or None."""
    owner, jobs = claim_many(
        session,
        [job_id],
        statuses,
        lease_seconds=lease_seconds,
        token=token,
        now=now,
        only_if=only_if,
        **values,
    )
    return (jobs[0], owner) if jobs else None


def claim_many(
    session: Session,
    job_ids: list[str],
    statuses: Iterable[str],
    *,
    lease_seconds: int,
    token: str | None = None,
    now: datetime | None = None,
    only_if: Any = None,
    **values: Any,
) -> tuple[str, list[Job]]:
    """``claim`` for a batch in one statement: the jobs among ``job_ids`` this message may start
    (all under one fresh owner). Returns (owner, claimed jobs)."""
    statuses = list(statuses)
    if "status" in values:  # a claim that also moves the jobs (queued → submitting)
        check_path(statuses, values["status"])
    now = now or utcnow()
    owner = secrets.token_hex(8)
    until = now + timedelta(seconds=lease_seconds)
    # ``next_poll_at`` moves with the lease: the due index then holds only claimable rows, and a
    # step whose worker dies becomes due again when its lease runs out.
    values.setdefault("next_poll_at", until)
    stmt = (
        update(Job)
        .where(Job.id.in_(job_ids), Job.status.in_(statuses), Job.deleted_at.is_(None))
        .values(lease_owner=owner, lease_until=until, **values)
        .returning(Job)
        .execution_options(**RETURNED)
    )
    if only_if is not None:
        stmt = stmt.where(only_if)
    if token:
        stmt = stmt.where(Job.lease_owner == token)
    else:
        stmt = stmt.where(or_(Job.lease_until.is_(None), Job.lease_until < now))
    return owner, list(session.execute(stmt).scalars())


def get_job(session: Session, job_id: str) -> Job | None:
    return session.execute(select(Job).where(Job.id == job_id)).scalar_one_or_none()

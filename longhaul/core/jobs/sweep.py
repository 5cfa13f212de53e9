"""Periodic work, safe to run twice at once: claims use ``FOR UPDATE SKIP LOCKED`` and tokens.

Admission: the sweep sends only what the workers can start soon. For each step queue it is told
how many messages wait there (``QueueState.depth``) and tops the queue up to a target, never more.
A sent message reserves its job (``lease_owner`` = the message's token, ``lease_until`` and
``next_poll_at`` moved forward by one lease): the lease itself starts when a worker starts the
step (``state.claim`` with that token), so time spent waiting in the queue never makes a message
stale. A reserved job is sent again only once its message can no longer be waiting in the queue:
Redis lists are FIFO, so when the oldest message still queued was sent at ``oldest_sent``, every
message sent before that has left the queue (see ``QueueState.horizon``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from longhaul.core import messages
from longhaul.core.costs.holds import release_ended
from longhaul.core.jobs.lifecycle import ACTIVE, QUEUE_FOR_STEP, STEP_FOR_STATUS, Status, Step
from longhaul.core.jobs.state import transition
from longhaul.core.models import Job, utcnow

# Steps whose message carries a batch of jobs (submits and polls run concurrently on the async
# SDK; finalizes share one transaction).
BATCHED = (Step.SUBMIT, Step.POLL, Step.FINALIZE)


@dataclass(frozen=True)
class QueueState:
    """What the broker says about one queue: messages waiting, and when the oldest was sent
    (epoch seconds; None when it carries no send time, which blocks re-sends until it drains)."""

    depth: int
    oldest_sent: float | None = None

    def horizon(self, now: datetime) -> datetime:
        """Every message sent before this instant has left the queue."""
        if self.depth == 0:
            return now
        if self.oldest_sent is None:
            return datetime.min.replace(tzinfo=UTC)
        return min(now, datetime.fromtimestamp(self.oldest_sent, UTC))


@dataclass(frozen=True)
class Admission:
    """How much each queue may still take: ``room`` messages; the batched steps (submit, poll)
    carry up to ``batch`` jobs per message and keep fewer messages waiting (``batched_queue``).
    Without queue states (tests, tools) nothing is gated."""

    queues: Mapping[str, QueueState]
    per_queue: int
    batched_queue: Mapping[str, int]  # queue → most batch messages waiting in it
    batch: Mapping[str, int]  # step → jobs per message

    def room(self, queue: str) -> int:
        target = self.batched_queue.get(queue, self.per_queue)
        return max(target - self.queues.get(queue, QueueState(0)).depth, 0)

    def horizon(self, queue: str, now: datetime) -> datetime:
        return self.queues.get(queue, QueueState(0)).horizon(now)


def claim_due(
    session: Session,
    *,
    lease_seconds: int,
    limit: int,
    now: datetime | None = None,
    admission: Admission | None = None,
) -> list[tuple[str, str, str]]:
    """Reserve due jobs for one message each (polls: one per batch) and queue those messages for
    after the commit; returns (step, job id, token). A job whose worker dies keeps its lease
    until it runs out and then becomes due again (``next_poll_at`` moves with it)."""
    now = now or utcnow()
    out: list[tuple[str, str, str]] = []
    budget = limit
    for status, step in STEP_FOR_STATUS.items():
        queue = QUEUE_FOR_STEP[step]
        horizon = admission.horizon(queue, now) if admission else now
        if step in BATCHED:
            batch = admission.batch.get(step, budget) if admission else budget
            rounds = admission.room(queue) if admission else 1
        else:
            batch, rounds = budget, 1
            if admission:
                batch = min(batch, admission.room(queue))
        for _ in range(rounds):
            size = min(batch, budget)
            if size <= 0:
                break
            token = secrets.token_hex(8)
            ids = _reserve(session, status, size, token, now, horizon, lease_seconds)
            if ids and step in BATCHED:
                messages.send_after_commit(session, messages.batch(step, ids, token))
            elif ids:
                messages.send_after_commit(session, *(messages.step(step, i, token) for i in ids))
            out += [(step, job_id, token) for job_id in ids]
            budget -= len(ids)
            if len(ids) < size:
                break
    return out


def _claimable(status: str, now: datetime, horizon: datetime) -> ColumnElement[bool]:
    """Due, not leased, and not possibly still waiting in the queue. A poll that ended cleared
    its reservation (``lease_owner`` NULL) and no message for it exists; every other due row may
    have one (intake's submit, a hand-over to finalize, an earlier sweep), so it must predate the
    queue's horizon."""
    free = or_(Job.lease_until.is_(None), Job.lease_until < now)
    if status == Status.IN_PROGRESS:
        unsent = or_(Job.lease_owner.is_(None), Job.next_poll_at < horizon)
        return and_(Job.next_poll_at <= now, free, unsent)
    return and_(Job.next_poll_at <= min(now, horizon), free)


def _reserve(
    session: Session,
    status: str,
    size: int,
    token: str,
    now: datetime,
    horizon: datetime,
    lease_seconds: int,
) -> list[str]:
    due = (
        select(Job.id)
        .where(Job.status == status, _claimable(status, now, horizon), Job.deleted_at.is_(None))
        .order_by(Job.next_poll_at)
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    reserved_until = now + timedelta(seconds=lease_seconds)
    return list(
        session.execute(
            update(Job)
            .where(Job.id.in_(due.scalar_subquery()))
            .values(lease_owner=token, lease_until=reserved_until, next_poll_at=reserved_until)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )


def reconcile(session: Session, *, lease_seconds: int, now: datetime | None = None) -> int:
    """Repair what the sweep cannot see. A job stuck in ``submitting`` past its lease died during
    the create call: the upstream may or may not have the response, so it goes back to ``queued``
    flagged ``possibly_duplicated``. An active job without a ``next_poll_at`` gets one. A budget
    hold still open for a job that ended is released."""
    now = now or utcnow()
    stuck = (
        session.execute(
            select(Job.id)
            .where(Job.status == Status.SUBMITTING, Job.lease_until < now)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    for job_id in stuck:  # rows locked above: the compare-and-set cannot lose
        transition(
            session,
            job_id,
            [Status.SUBMITTING],
            Status.QUEUED,
            now=now,
            reason="submit_interrupted",
            possibly_duplicated=True,
            next_poll_at=now,
            lease_until=None,
            lease_owner=None,
        )
    orphans = session.execute(  # type: ignore[attr-defined]
        update(Job)
        .where(
            Job.status.in_(list(ACTIVE - {Status.SUBMITTING})),
            Job.next_poll_at.is_(None),
            Job.deleted_at.is_(None),
        )
        .values(next_poll_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    released = release_ended(session)
    session.flush()
    return len(stuck) + (orphans or 0) + released

"""The durable event log of a job (``job_events``) and its stream row (``job_streams``).

PostgreSQL is the truth: clients replay from here, and a relay resumes from the cursor stored
beside the events in the same transaction. Nothing here commits: the caller owns the
transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core.config import Settings
from longhaul.core.jobs.lifecycle import TERMINAL
from longhaul.core.models import Job, utcnow
from longhaul.core.models.streams import JobEvent, JobStream

# ``response.cancelled`` is Longhaul's own: OpenAI has no cancel stream event.
FINAL_TYPES: dict[str, str] = {status: f"response.{status}" for status in TERMINAL}


@dataclass(frozen=True)
class Event:
    """An event as stored and served; ``data`` is its JSON text."""

    sequence_number: int
    type: str
    kind: str
    data: str

    @property
    def final(self) -> bool:
        return self.kind == "final"


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def open_stream(session: Session, job: Job, created: dict[str, Any]) -> bool:
    """Give ``job`` a stream whose event 0 is Longhaul's ``response.created`` carrying
    ``created`` (the job as a Response). Returns False if it already had one."""
    inserted = session.execute(
        insert(JobStream)
        .values(job_id=job.id, status="live", next_sequence_number=1)
        .on_conflict_do_nothing(index_elements=["job_id"])
        .returning(JobStream.job_id)
    ).scalar_one_or_none()
    if inserted is None:
        return False
    event = {"type": "response.created", "sequence_number": 0, "response": created}
    session.add(
        JobEvent(
            job_id=job.id,
            sequence_number=0,
            type=event["type"],
            kind="longhaul",
            data=encode(event),
        )
    )
    session.flush()
    return True


def get_stream(session: Session, job_id: str) -> JobStream | None:
    return session.get(JobStream, job_id)


def events_after(session: Session, job_id: str, after: int, limit: int = 500) -> list[Event]:
    rows = session.execute(
        select(JobEvent.sequence_number, JobEvent.type, JobEvent.kind, JobEvent.data)
        .where(JobEvent.job_id == job_id, JobEvent.sequence_number > after)
        .order_by(JobEvent.sequence_number)
        .limit(limit)
    ).all()
    return [Event(*row) for row in rows]


def last_sequence_number(session: Session, job_id: str) -> int | None:
    return session.execute(
        select(func.max(JobEvent.sequence_number)).where(JobEvent.job_id == job_id)
    ).scalar_one_or_none()


def delete_events(session: Session, job_id: str) -> None:
    """A deleted job's events and stream go with it."""
    session.execute(delete(JobEvent).where(JobEvent.job_id == job_id))
    session.execute(delete(JobStream).where(JobStream.job_id == job_id))


def purge_expired(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Delete events older than ``LONGHAUL_EVENT_RETENTION_DAYS`` (of finished streams)."""
    if settings.event_retention_days is None:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=settings.event_retention_days)
    finished = select(JobStream.job_id).where(JobStream.status == "done")
    result = session.execute(
        delete(JobEvent).where(JobEvent.created_at < cutoff, JobEvent.job_id.in_(finished))
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass
class Pending:
    """Events a relay numbered in memory for one stream it leases, to store in one flush."""

    job_id: str
    events: list[Event]  # numbered contiguously, starting at the stored cursor
    upstream_sequence_number: int | None
    upstream_numbers: list[int | None]

    @property
    def expected_next(self) -> int:
        return self.events[0].sequence_number

    @property
    def next_sequence_number(self) -> int:
        return self.events[-1].sequence_number + 1


_ADVANCE = text(
    """
    UPDATE job_streams AS s
    SET next_sequence_number = v.next_seq,
        upstream_sequence_number = COALESCE(v.upstream_seq, s.upstream_sequence_number),
        lease_until = :lease_until,
        updated_at = :now
    FROM unnest(CAST(:ids AS text[]), CAST(:expected AS int[]), CAST(:next AS int[]),
                CAST(:upstream AS int[])) AS v(job_id, expected, next_seq, upstream_seq)
    WHERE s.job_id = v.job_id AND s.lease_owner = :owner AND s.next_sequence_number = v.expected
    RETURNING s.job_id
    """
)


def append_batch(
    session: Session, owner: str, pending: list[Pending], lease_seconds: int
) -> set[str]:
    """Store the events of several streams in two statements: advance each stream's cursor
    (only where ``owner`` still holds its lease and nobody wrote meanwhile: a fence), then
    insert the events of the streams that passed. Returns the job ids that were stored."""
    pending = [p for p in pending if p.events]
    if not pending:
        return set()
    now = utcnow()
    accepted = set(
        session.execute(
            _ADVANCE,
            {
                "ids": [p.job_id for p in pending],
                "expected": [p.expected_next for p in pending],
                "next": [p.next_sequence_number for p in pending],
                "upstream": [p.upstream_sequence_number for p in pending],
                "owner": owner,
                "now": now,
                "lease_until": now + timedelta(seconds=lease_seconds),
            },
        ).scalars()
    )
    rows = [
        {
            "job_id": p.job_id,
            "sequence_number": e.sequence_number,
            "type": e.type,
            "kind": e.kind,
            "data": e.data,
            "upstream_sequence_number": up,
            "created_at": now,
        }
        for p in pending
        if p.job_id in accepted
        for e, up in zip(p.events, p.upstream_numbers, strict=True)
    ]
    if rows:
        session.execute(insert(JobEvent), rows)
    return accepted


def numbered(kind: str, event: dict[str, Any], sequence_number: int) -> Event:
    """``event`` as Longhaul's event number ``sequence_number``."""
    body = {**event, "sequence_number": sequence_number}
    return Event(sequence_number, str(body.get("type", "")), kind, encode(body))


def set_status(
    session: Session, job_id: str, owner: str, status: str, error: dict[str, Any] | None = None
) -> bool:
    """Move a leased stream to ``polling`` or ``done`` (which also frees the lease)."""
    values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
    if error is not None:
        values["error"] = error
    if status == "done":
        values.update(lease_owner=None, lease_until=None)
    result = session.execute(
        update(JobStream)
        .where(JobStream.job_id == job_id, JobStream.lease_owner == owner)
        .values(**values)
    )
    return bool(getattr(result, "rowcount", 0))

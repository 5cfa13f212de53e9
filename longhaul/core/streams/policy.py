"""Which jobs stream, and who creates them upstream (the relay, for streaming jobs)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from longhaul.core.config import Settings
from longhaul.core.jobs.lifecycle import Status
from longhaul.core.models import Job, utcnow


def wants_stream(job: Job, settings: Settings) -> bool:
    """``stream: true`` jobs stream; with ``LONGHAUL_STREAM_ALL`` every job does."""
    return bool(job.request_body.get("stream")) or settings.stream_all


def relay_owned(
    session: Session, job_ids: list[str], settings: Settings, token: str | None
) -> set[str]:
    """For submit: young streaming jobs are the relay's to create (its create is the stream),
    so submit leaves them alone and gives back a reservation the sweep took for them. Past
    ``relay_grace_seconds`` with no relay, submit creates them as usual: the relay attaches
    later, or the job has no live events but still completes. One read for the batch."""
    young = utcnow() - timedelta(seconds=settings.relay_grace_seconds)
    query = select(Job.id).where(
        Job.id.in_(job_ids), Job.status == Status.QUEUED, Job.created_at > young
    )
    if not settings.stream_all:
        query = query.where(Job.request_body["stream"].as_boolean().is_(True))
    owned = set(session.execute(query).scalars())
    if owned and token:
        session.execute(
            update(Job)
            .where(Job.id.in_(owned), Job.lease_owner == token)
            .values(lease_owner=None, lease_until=None)
        )
    return owned

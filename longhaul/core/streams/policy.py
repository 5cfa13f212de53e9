"""Which jobs stream, and who creates them upstream (the relay, for streaming jobs)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from longhaul.core.config import Settings
from longhaul.core.jobs.lifecycle import Status
from longhaul.core.models import Job, utcnow


def wants_stream(job: Job, settings: Settings) -> bool:
    """``stream: true`` jobs stream; with ``LONGHAUL_STREAM_ALL`` every job does."""
    return bool(job.request_body.get("stream")) or settings.stream_all


def relay_creates(session: Session, job_id: str, settings: Settings, token: str | None) -> bool:
    """For submit: a young streaming job is the relay's to create (its create is the stream),
    so submit leaves it alone and gives back a lease the sweep took for it. Past
    ``relay_grace_seconds`` with no relay, submit creates it as usual: the relay attaches
    later, or the job has no live events but still completes."""
    job = session.get(Job, job_id)
    if job is None or job.status != Status.QUEUED or not wants_stream(job, settings):
        return False
    if (utcnow() - job.created_at).total_seconds() >= settings.relay_grace_seconds:
        return False
    if token:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == token)
            .values(lease_owner=None, lease_until=None)
        )
    return True

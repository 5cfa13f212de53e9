"""What the relay does to jobs and stream rows, as short blocking transactions (the relay runs
them in threads). Job transitions reuse ``core.jobs`` (claim, compare-and-set, submit's failure
handling), so a streamed create follows the same rules as a worker's: committed
``submitting`` before the (non-idempotent) create, upstream id stored at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, any_, bindparam, exists, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from longhaul.core import messages
from longhaul.core.config import Settings
from longhaul.core.jobs import submit
from longhaul.core.jobs.lifecycle import ACTIVE, RESPONSE_STATUS, RUNNING, TERMINAL, Status, Step
from longhaul.core.jobs.state import claim, transition
from longhaul.core.jobs.views import response_view
from longhaul.core.models import Job, Tenant, utcnow
from longhaul.core.models.streams import JobStream
from longhaul.core.streams import store
from longhaul.core.streams.policy import requested


@dataclass(frozen=True)
class JobInfo:
    id: str
    status: str
    upstream_response_id: str | None
    created_at: datetime
    template: dict[str, Any]  # the job as a running Response (lifecycle events carry it)


@dataclass(frozen=True)
class Claimed:
    job_id: str
    status: str
    next_sequence_number: int
    upstream_sequence_number: int | None


def link(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")


def discover(session: Session, settings: Settings, limit: int = 200) -> int:
    """Give active jobs that should stream (``stream: true``, or all of a tenant that streams
    all: its own ``stream_all``, else ``LONGHAUL_STREAM_ALL``) a stream
    with Longhaul's ``response.created`` as event 0."""
    jobs = (
        session.execute(
            select(Job)
            .join(Tenant, Tenant.id == Job.tenant_id)
            .where(
                Job.status.in_(list(ACTIVE)),
                Job.deleted_at.is_(None),
                requested(settings),
                ~exists().where(JobStream.job_id == Job.id),
            )
            .order_by(Job.created_at)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    opened = 0
    for job in jobs:
        view = response_view(session, job, link(settings))
        view["status"] = RESPONSE_STATUS[Status.QUEUED]
        opened += store.open_stream(session, job, view)
    return opened


_CLAIM = text(
    """
    UPDATE job_streams SET lease_owner = :owner, lease_until = :until
    WHERE job_id IN (
        SELECT job_id FROM job_streams
        WHERE status <> 'done' AND (lease_until IS NULL OR lease_until < :now)
        ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING job_id, status, next_sequence_number, upstream_sequence_number
    """
)


def claim_streams(session: Session, owner: str, limit: int, lease_seconds: int) -> list[Claimed]:
    if limit <= 0:
        return []
    now = utcnow()
    rows = session.execute(
        _CLAIM,
        {
            "owner": owner,
            "until": now + timedelta(seconds=lease_seconds),
            "now": now,
            "limit": limit,
        },
    ).all()
    return [Claimed(*row) for row in rows]


def renew(session: Session, owner: str, job_ids: list[str], lease_seconds: int) -> set[str]:
    """Extend the leases still held; returns the job ids this relay still owns."""
    if not job_ids:
        return set()
    now = utcnow()
    held = session.execute(
        update(JobStream)
        .where(JobStream.job_id.in_(job_ids), JobStream.lease_owner == owner)
        .values(lease_until=now + timedelta(seconds=lease_seconds))
        .returning(JobStream.job_id)
    ).scalars()
    return set(held)


def release_all(session: Session, owner: str) -> None:
    session.execute(
        update(JobStream)
        .where(JobStream.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def load(session: Session, job_id: str, settings: Settings) -> JobInfo | None:
    job = session.get(Job, job_id)
    if job is None or job.deleted_at is not None:
        return None
    view = response_view(session, job, link(settings))
    return JobInfo(job.id, job.status, job.upstream_response_id, job.created_at, view)


def begin_create(
    session: Session, job_id: str, settings: Settings
) -> tuple[dict[str, Any], str] | None:
    """Claim a queued job (when due) and commit it as ``submitting``, like submit does; returns
    the upstream body and the job lease, or None if it is not this relay's to create now."""
    now = utcnow()
    job = session.get(Job, job_id)
    if job is None or job.status != Status.QUEUED:
        return None
    if job.submit_attempts and job.next_poll_at and job.next_poll_at > now:
        return None  # a retry waits for its backoff
    claimed = claim(session, job_id, [Status.QUEUED], lease_seconds=settings.lease_seconds, now=now)
    if claimed is None:
        return None
    queued, owner = claimed
    started = transition(
        session,
        job_id,
        [Status.QUEUED],
        Status.SUBMITTING,
        now=now,
        owned_by=owner,
        submit_attempts=queued.submit_attempts + 1,
    )
    # The relay's session scope commits `submitting` before the (non-idempotent) create leaves.
    if started is None:
        return None
    body = submit.upstream_body(started)
    body["stream"] = True
    body["stream_options"] = {**(body.get("stream_options") or {}), "include_obfuscation": False}
    return body, owner


def created(
    session: Session, job_id: str, owner: str, response: dict[str, Any], settings: Settings
) -> bool:
    """The upstream's ``response.created`` arrived: store its id, exactly as submit does."""
    return submit.record_created(session, job_id, owner, response, settings=settings) is not None


def create_failed(
    session: Session, job_id: str, owner: str, exc: Exception, settings: Settings
) -> None:
    """The create failed before ``response.created``: submit's own retry/fail rules apply."""
    job = session.get(Job, job_id)
    if job is not None:
        submit.record_failure(session, job, owner, exc, settings)


def wake(session: Session, job_id: str) -> None:
    """A terminal stream event: poll the job now rather than at its next scheduled poll."""
    woken = session.execute(
        update(Job).where(Job.id == job_id, Job.status.in_(RUNNING)).values(next_poll_at=utcnow())
    ).rowcount  # type: ignore[attr-defined]
    if woken:
        messages.send_after_commit(session, messages.step(Step.POLL, job_id))


# One array parameter, not one per id: a thousand ids bind and plan as cheaply as one.
_FINISHED = select(Job.id, Job.status, Job.deleted_at).where(
    Job.id == any_(bindparam("ids", type_=ARRAY(String)))
)


def finished(session: Session, job_ids: list[str]) -> dict[str, str | None]:
    """Of ``job_ids``, those that ended: terminal status, or None when deleted or gone."""
    if not job_ids:
        return {}
    rows = session.execute(_FINISHED, {"ids": job_ids}).all()
    found = {r.id for r in rows}
    ended: dict[str, str | None] = {j: None for j in job_ids if j not in found}
    for job_id, status, deleted_at in rows:
        if deleted_at is not None:
            ended[job_id] = None
        elif status in TERMINAL:
            ended[job_id] = status
    return ended


def final_event(session: Session, job_id: str, settings: Settings) -> dict[str, Any] | None:
    job = session.get(Job, job_id)
    if job is None or job.status not in TERMINAL:
        return None
    view = response_view(session, job, link(settings))
    return {"type": store.FINAL_TYPES[job.status], "response": view}

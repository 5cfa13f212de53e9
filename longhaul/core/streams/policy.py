"""Which jobs stream, and who creates them upstream (the relay, for streaming jobs)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from longhaul.core.auth import get_or_create_tenant
from longhaul.core.config import Settings
from longhaul.core.jobs.lifecycle import Status
from longhaul.core.models import Job, Tenant, utcnow


def streams_all(settings: Settings) -> ColumnElement[bool]:
    """SQL: the job's tenant streams every job (its own setting, else the environment's).
    For queries that join ``Tenant``."""
    if settings.stream_all:
        return Tenant.stream_all.is_not(False)
    return Tenant.stream_all.is_(True)


def requested(settings: Settings) -> ColumnElement[bool]:
    """SQL: the job streams (``stream: true``, or its tenant streams all). Joins ``Tenant``."""
    return or_(Job.request_body["stream"].as_boolean().is_(True), streams_all(settings))


def wants_stream(session: Session, job: Job, settings: Settings) -> bool:
    """``stream: true`` jobs stream; so does every job of a tenant whose ``stream_all`` is on
    (``LONGHAUL_STREAM_ALL`` for tenants without their own setting)."""
    if job.request_body.get("stream"):
        return True
    own = session.execute(select(Tenant.stream_all).where(Tenant.id == job.tenant_id)).scalar()
    return settings.stream_all if own is None else own


def set_tenant_stream_all(session: Session, tenant_name: str, value: bool | None) -> Tenant:
    """Set (``None``: clear) a tenant's own setting; the tenant is created if new."""
    tenant = get_or_create_tenant(session, tenant_name)
    session.execute(update(Tenant).where(Tenant.id == tenant.id).values(stream_all=value))
    session.refresh(tenant)
    return tenant


def relay_owned(
    session: Session, job_ids: list[str], settings: Settings, token: str | None
) -> set[str]:
    """For submit: young streaming jobs are the relay's to create (its create is the stream),
    so submit leaves them alone and gives back a reservation the sweep took for them. Past
    ``relay_grace_seconds`` with no relay, submit creates them as usual: the relay attaches
    later, or the job has no live events but still completes. One read for the batch."""
    young = utcnow() - timedelta(seconds=settings.relay_grace_seconds)
    query = (
        select(Job.id)
        .join(Tenant, Tenant.id == Job.tenant_id)
        .where(
            Job.id.in_(job_ids),
            Job.status == Status.QUEUED,
            Job.created_at > young,
            requested(settings),
        )
    )
    owned = set(session.execute(query).scalars())
    if owned and token:
        session.execute(
            update(Job)
            .where(Job.id.in_(owned), Job.lease_owner == token)
            .values(lease_owner=None, lease_until=None)
        )
    return owned

"""Jobs as the viewer lists and opens them: filters, sort, pages and per-row facts in a few
queries. A tenant sees its own jobs; the admin (``tenant_id=None``) sees every tenant's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from longhaul.core.errors import InvalidInput, NotFound
from longhaul.core.models import Job, Tenant
from longhaul.core.models.artifacts import Artifact
from longhaul.core.models.costs import LedgerLine
from longhaul.core.models.webhooks import InboundWebhook, WebhookDelivery, WebhookEvent

SORTS = ("created", "finished", "duration", "cost", "model", "status")
PER_PAGE = 25


@dataclass
class JobFilter:
    status: list[str] = field(default_factory=list)
    model: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    text: str | None = None


@dataclass
class JobRow:
    job: Job
    tenant: str
    cost: Decimal | None
    files: int
    webhook: str | None  # delivered | pending | failed | disabled | None (no webhook)


@dataclass
class JobPage:
    rows: list[JobRow]
    total: int
    page: int
    pages: int


def _cost_subquery() -> Any:
    return (
        select(func.sum(LedgerLine.amount))
        .where(LedgerLine.job_id == Job.id)
        .correlate(Job)
        .scalar_subquery()
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_jobs(
    session: Session,
    tenant_id: str | None,
    filters: JobFilter,
    *,
    sort: str = "created",
    descending: bool = True,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> JobPage:
    """One page of jobs, counted and sorted; ``page`` is 1-based."""
    if sort not in SORTS:
        raise InvalidInput(f"Unknown sort {sort!r}: choose from {', '.join(SORTS)}.", param="sort")
    if page < 1 or not 1 <= per_page <= 200:
        raise InvalidInput("'page' must be 1 or more.", param="page")
    where: list[Any] = [Job.deleted_at.is_(None)]
    if tenant_id is not None:
        where.append(Job.tenant_id == tenant_id)
    if filters.status:
        where.append(Job.status.in_(filters.status))
    if filters.model:
        where.append(Job.model == filters.model)
    if filters.created_from:
        where.append(Job.created_at >= filters.created_from)
    if filters.created_to:
        where.append(Job.created_at < filters.created_to)
    for key, value in filters.metadata.items():
        where.append(Job.job_metadata[key].astext == value)
    if filters.text:
        pattern = _like(filters.text)
        where.append(
            or_(
                Job.output_text.ilike(pattern, escape="\\"),
                cast(Job.request_body["input"], Text).ilike(pattern, escape="\\"),
                cast(Job.request_body["instructions"], Text).ilike(pattern, escape="\\"),
            )
        )
    total = session.execute(select(func.count()).select_from(Job).where(*where)).scalar_one()
    keys: dict[str, Any] = {
        "created": Job.created_at,
        "finished": Job.finished_at,
        "duration": func.coalesce(Job.finished_at, func.now()) - Job.created_at,
        "cost": _cost_subquery(),
        "model": Job.model,
        "status": Job.status,
    }
    key = keys[sort]
    order = [
        key.desc().nulls_last() if descending else key.asc().nulls_last(),
        Job.created_at.desc(),
        Job.id.desc(),
    ]
    jobs = list(
        session.execute(
            select(Job).where(*where).order_by(*order).limit(per_page).offset((page - 1) * per_page)
        ).scalars()
    )
    return JobPage(
        rows=job_rows(session, jobs),
        total=total,
        page=page,
        pages=max(1, -(-total // per_page)),
    )


def job_rows(session: Session, jobs: list[Job]) -> list[JobRow]:
    """Cost, file count, webhook state and tenant name for each job, in four queries."""
    ids = [j.id for j in jobs]
    if not ids:
        return []
    costs = dict(
        session.execute(
            select(LedgerLine.job_id, func.sum(LedgerLine.amount))
            .where(LedgerLine.job_id.in_(ids))
            .group_by(LedgerLine.job_id)
        ).all()
    )
    files = dict(
        session.execute(
            select(Artifact.job_id, func.count())
            .where(Artifact.job_id.in_(ids))
            .group_by(Artifact.job_id)
        ).all()
    )
    states: dict[str, set[str]] = {}
    for job_id, status in session.execute(
        select(WebhookEvent.job_id, WebhookDelivery.status)
        .join(WebhookDelivery, WebhookDelivery.event_id == WebhookEvent.id)
        .where(WebhookEvent.job_id.in_(ids))
    ).all():
        states.setdefault(job_id, set()).add(status)
    tenants = dict(
        session.execute(
            select(Tenant.id, Tenant.name).where(Tenant.id.in_({j.tenant_id for j in jobs}))
        ).all()
    )
    return [
        JobRow(
            job=j,
            tenant=tenants.get(j.tenant_id, j.tenant_id),
            cost=costs.get(j.id),
            files=int(files.get(j.id, 0)),
            webhook=_webhook_state(states.get(j.id)),
        )
        for j in jobs
    ]


def _webhook_state(statuses: set[str] | None) -> str | None:
    if not statuses:
        return None
    for worst in ("failed", "disabled", "pending"):
        if worst in statuses:
            return worst
    return "delivered"


def models_in_use(session: Session, tenant_id: str | None) -> list[str]:
    stmt = select(Job.model).where(Job.deleted_at.is_(None)).distinct().order_by(Job.model)
    if tenant_id is not None:
        stmt = stmt.where(Job.tenant_id == tenant_id)
    return list(session.execute(stmt.limit(200)).scalars())


def get_job(session: Session, tenant_id: str | None, job_id: str) -> Job:
    """The job if this viewer may see it; another tenant's job is simply not found."""
    stmt = select(Job).where(Job.id == job_id, Job.deleted_at.is_(None))
    if tenant_id is not None:
        stmt = stmt.where(Job.tenant_id == tenant_id)
    job = session.execute(stmt).scalar_one_or_none()
    if job is None:
        raise NotFound(f"No job found with id '{job_id}'.", param="job_id", code="not_found")
    return job


def get_tenant(session: Session, tenant_id: str) -> Tenant:
    return session.execute(select(Tenant).where(Tenant.id == tenant_id)).scalar_one()


def jobs_by_id(session: Session, tenant_id: str | None, ids: list[str]) -> list[JobRow]:
    """Rows for the given ids (the jobs list refreshing its running rows)."""
    stmt = select(Job).where(Job.id.in_(ids[:200]), Job.deleted_at.is_(None))
    if tenant_id is not None:
        stmt = stmt.where(Job.tenant_id == tenant_id)
    return job_rows(session, list(session.execute(stmt).scalars()))


def inbound_webhooks(session: Session, job_id: str) -> list[dict[str, Any]]:
    """OpenAI's ``response.*`` webhooks that arrived for the job (the timeline's upstream side)."""
    rows = session.execute(
        select(InboundWebhook.type, InboundWebhook.received_at, InboundWebhook.webhook_id)
        .where(InboundWebhook.job_id == job_id)
        .order_by(InboundWebhook.received_at)
        .limit(100)
    ).all()
    return [{"type": t, "received_at": at, "webhook_id": wid} for t, at, wid in rows]

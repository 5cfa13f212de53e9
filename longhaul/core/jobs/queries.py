"""Reading jobs on behalf of a tenant: another tenant's job is simply not found."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from longhaul.core.errors import InvalidInput, NotFound
from longhaul.core.jobs.lifecycle import Status
from longhaul.core.models import Job, Tenant

STATUSES = tuple(s.value for s in Status)


def get_for_tenant(session: Session, tenant: Tenant, job_id: str) -> Job:
    job = session.execute(
        select(Job).where(Job.id == job_id, Job.tenant_id == tenant.id, Job.deleted_at.is_(None))
    ).scalar_one_or_none()
    if job is None:
        raise NotFound(
            f"No response found with id '{job_id}'.", param="response_id", code="not_found"
        )
    return job


def parse_statuses(text: str, param: str = "status") -> list[str]:
    """A comma list of job statuses, each a known one: the list stays short (one of each)."""
    wanted = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown or not wanted:
        shown = ", ".join(repr(s[:40]) for s in unknown[:3])
        raise InvalidInput(
            f"Unknown status {shown or repr(text[:40])}; expected some of {', '.join(STATUSES)}.",
            param=param,
            code="invalid_value",
        )
    return wanted


def list_jobs(
    session: Session,
    tenant: Tenant,
    *,
    limit: int = 20,
    after: str | None = None,
    status: str | None = None,
    model: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    metadata: dict[str, str] | None = None,
) -> tuple[list[Job], bool]:
    """Newest first, keyset-paginated on (created_at, id); ``after`` is the last id seen."""
    if not 1 <= limit <= 100:
        raise InvalidInput("'limit' must be between 1 and 100.", param="limit")
    stmt = select(Job).where(Job.tenant_id == tenant.id, Job.deleted_at.is_(None))
    if status:
        stmt = stmt.where(Job.status.in_(parse_statuses(status)))
    if model:
        stmt = stmt.where(Job.model == model)
    if created_after:
        stmt = stmt.where(Job.created_at >= created_after)
    if created_before:
        stmt = stmt.where(Job.created_at < created_before)
    if metadata:  # containment, served by the GIN (jsonb_path_ops) index ix_jobs_metadata
        stmt = stmt.where(Job.job_metadata.contains(metadata))
    if after:
        cursor = session.execute(
            select(Job.created_at, Job.id).where(Job.id == after, Job.tenant_id == tenant.id)
        ).one_or_none()
        if cursor is None:
            raise InvalidInput(f"Unknown cursor '{after}'.", param="after")
        stmt = stmt.where(
            or_(Job.created_at < cursor[0], and_(Job.created_at == cursor[0], Job.id < cursor[1]))
        )
    rows = list(
        session.execute(
            stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
        ).scalars()
    )
    return rows[:limit], len(rows) > limit


def page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def local_input_items(job: Job) -> list[dict[str, Any]]:
    """Input items from the stored request, for jobs the upstream has not seen (yet)."""
    raw = job.request_body.get("input")
    if isinstance(raw, str):
        raw = [{"role": "user", "content": raw}]
    items = []
    for index, item in enumerate(raw or []):
        if not isinstance(item, dict):
            continue
        item = dict(item)
        if isinstance(item.get("content"), str):
            item["content"] = [{"type": "input_text", "text": item["content"]}]
        item.setdefault("type", "message")
        item.setdefault("id", f"msg_{job.id[-12:]}_{index}")
        item.setdefault("status", "completed")
        items.append(item)
    return items

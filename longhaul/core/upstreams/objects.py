"""Ownership records of upstream objects made through Longhaul."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core.models import Tenant
from longhaul.core.models.objects import UpstreamObject


def record(
    session: Session,
    tenant: Tenant,
    *,
    kind: str,
    upstream_id: str | None,
    data: dict[str, Any],
) -> None:
    stmt = insert(UpstreamObject).values(
        kind=kind,
        object_id=str(data["id"]),
        tenant_id=tenant.id,
        upstream_id=upstream_id,
        data=data,
    )
    session.execute(
        stmt.on_conflict_do_update(index_elements=["kind", "object_id"], set_={"data": data})
    )


def owned(session: Session, tenant: Tenant, kind: str, object_id: str) -> UpstreamObject | None:
    """The tenant's record of the object (on whichever upstream it lives), or None."""
    return session.execute(
        select(UpstreamObject).where(
            UpstreamObject.kind == kind,
            UpstreamObject.object_id == object_id,
            UpstreamObject.tenant_id == tenant.id,
        )
    ).scalar_one_or_none()


def listed(
    session: Session, tenant: Tenant, kind: str, *, after: str | None, limit: int, order: str
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the tenant's objects (by creation), and whether more follow."""
    stmt = select(UpstreamObject).where(
        UpstreamObject.tenant_id == tenant.id, UpstreamObject.kind == kind
    )
    column = UpstreamObject.created_at
    if after:
        anchor = owned(session, tenant, kind, after)
        if anchor is not None:
            stmt = stmt.where(
                column < anchor.created_at if order == "desc" else column > anchor.created_at
            )
    stmt = stmt.order_by(column.desc() if order == "desc" else column.asc()).limit(limit + 1)
    rows = list(session.execute(stmt).scalars())
    return [r.data for r in rows[:limit]], len(rows) > limit


def forget(session: Session, tenant: Tenant, kind: str, object_id: str) -> None:
    session.execute(
        delete(UpstreamObject).where(
            UpstreamObject.kind == kind,
            UpstreamObject.object_id == object_id,
            UpstreamObject.tenant_id == tenant.id,
        )
    )

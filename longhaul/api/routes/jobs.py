"""Native job views: ``GET /v1/jobs`` (filters, cursor pagination) and ``GET /v1/jobs/{id}``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from longhaul.api.db import run_db
from longhaul.api.deps import TenantDep
from longhaul.api.links import base_url
from longhaul.core.costs.budgets import month_spend
from longhaul.core.jobs import queries
from longhaul.core.jobs.views import job_summary, job_view, load_extras

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("")
async def list_jobs(
    request: Request,
    tenant: TenantDep,
    limit: int = Query(20, ge=1, le=100),
    after: str | None = None,
    status: str | None = None,
    model: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> dict[str, Any]:
    metadata = {
        key[len("metadata[") : -1]: value
        for key, value in request.query_params.items()
        if key.startswith("metadata[") and key.endswith("]")
    }
    link = base_url(request)

    def page(session: Session) -> dict[str, Any]:
        jobs, has_more = queries.list_jobs(
            session,
            tenant,
            limit=limit,
            after=after,
            status=status,
            model=model,
            created_after=created_after,
            created_before=created_before,
            metadata=metadata,
        )
        extras = load_extras(session, jobs, link)  # constant queries per page, not per row
        return queries.page(
            [job_summary(session, j, link, extras=extras[j.id]) for j in jobs], has_more
        )

    return await run_db(page)


@router.get("/{job_id}")
async def get_job(job_id: str, request: Request, tenant: TenantDep) -> dict[str, Any]:
    link = base_url(request)

    def view(session: Session) -> dict[str, Any]:
        job = queries.get_for_tenant(session, tenant, job_id)
        result = job_view(session, job, link)
        result["tenant_month_spend_usd"] = str(month_spend(session, tenant.id))
        return result

    return await run_db(view)

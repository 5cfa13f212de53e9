"""Native job views: ``GET /v1/jobs`` (filters, cursor pagination) and ``GET /v1/jobs/{id}``."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from longhaul.api.db import run_db
from longhaul.api.deps import TenantDep
from longhaul.api.errors import documented
from longhaul.api.links import base_url
from longhaul.core.costs.budgets import month_spend
from longhaul.core.jobs import queries
from longhaul.core.jobs.views import build_job_detail, build_job_summary, load_extras
from longhaul.schemas.common import Page
from longhaul.schemas.jobs import JobDetail, JobSummary

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("", response_model=Page[JobSummary], responses=documented(400, 401))
async def list_jobs(
    request: Request,
    tenant: TenantDep,
    limit: int = Query(20, ge=1, le=100),
    after: str | None = None,
    status: str | None = None,
    model: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> Page[JobSummary]:
    metadata = {
        key[len("metadata[") : -1]: value
        for key, value in request.query_params.items()
        if key.startswith("metadata[") and key.endswith("]")
    }
    link = base_url(request)

    def page(session: Session) -> Page[JobSummary]:
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
        rows = [build_job_summary(session, j, link, extras=extras[j.id]) for j in jobs]
        return Page[JobSummary].of(rows, has_more, [j.id for j in jobs])

    return await run_db(page)


@router.get("/{job_id}", response_model=JobDetail, responses=documented(401, 404))
async def get_job(job_id: str, request: Request, tenant: TenantDep) -> JobDetail:
    link = base_url(request)

    def view(session: Session) -> JobDetail:
        job = queries.get_for_tenant(session, tenant, job_id)
        result = build_job_detail(session, job, link)
        result.tenant_month_spend_usd = str(month_spend(session, tenant.id))
        return result

    return await run_db(view)

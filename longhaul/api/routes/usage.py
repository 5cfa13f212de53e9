"""``GET /v1/usage``: cost, tokens and tool calls over a date range, as JSON or CSV.

A tenant key sees its own tenant. The admin key (``LONGHAUL_ADMIN_API_KEY``) sees every tenant,
may group by ``tenant`` and may filter with ``tenant=<name>``.
"""

from __future__ import annotations

import hmac
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from longhaul.api.deps import SessionDep, bearer_token
from longhaul.api.errors import documented
from longhaul.core.auth import tenant_for_key
from longhaul.core.config import get_settings
from longhaul.core.costs import usage
from longhaul.core.errors import InvalidInput, NotFound
from longhaul.core.models import Tenant
from longhaul.schemas.costs import UsageReport

router = APIRouter(tags=["usage"])


def _is_admin(key: str | None) -> bool:
    admin = get_settings().admin_api_key
    return bool(admin and key and hmac.compare_digest(admin.encode(), key.encode()))


@router.get(
    "/v1/usage",
    response_model=UsageReport,
    response_model_exclude_unset=True,  # a row carries only the grouping keys asked for
    responses={
        **documented(400, 401, 404),
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with ``format=csv``."},
    },
)
def get_usage(
    request: Request,
    session: SessionDep,
    start: Annotated[
        date | None, Query(description="First UTC day (default: 1st of month).")
    ] = None,
    end: Annotated[
        date | None, Query(description="Last UTC day, inclusive (default: today).")
    ] = None,
    group_by: Annotated[
        str,
        Query(description="Comma list: day,model,tool,tenant,upstream; empty for one total row."),
    ] = "day,model,tool",
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    tenant: Annotated[str | None, Query(description="Tenant name (admin key only).")] = None,
) -> UsageReport | PlainTextResponse:
    key = bearer_token(request)
    groups = usage.parse_group_by(group_by)
    if _is_admin(key):
        tenant_id = None
        if tenant is not None:
            row = session.execute(select(Tenant).where(Tenant.name == tenant)).scalar_one_or_none()
            if row is None:
                raise NotFound(f"No tenant named {tenant!r}.", param="tenant")
            tenant_id = row.id
    else:
        own = tenant_for_key(session, key)
        if "tenant" in groups or tenant is not None:
            raise InvalidInput(
                "Grouping or filtering by tenant needs the admin key.", param="group_by"
            )
        tenant_id = own.id
    today = datetime.now(UTC).date()
    start = start or usage.month_start()
    end = end or today
    rows = usage.usage_report(session, start=start, end=end, group_by=groups, tenant_id=tenant_id)
    if format == "csv":
        filename = f"longhaul-usage-{start}-{end}.csv"
        return PlainTextResponse(
            usage.to_csv(rows, groups),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )
    return UsageReport.model_validate(
        {
            "object": "list",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "group_by": groups,
            "currency": "USD",
            "total_cost_usd": usage.total_cost(rows),
            "data": rows,
        }
    )

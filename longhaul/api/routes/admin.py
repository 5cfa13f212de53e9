"""``/v1/admin/upstreams``: upstreams as data, for the admin key (``LONGHAUL_ADMIN_API_KEY``)
only. Secrets go in and never come out (the views say whether one is set)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.api.db import run_db
from longhaul.api.deps import bearer_token, client_address
from longhaul.api.errors import documented
from longhaul.core.auth import require_key
from longhaul.core.config import get_settings
from longhaul.core.errors import Unauthorized
from longhaul.core.models import Tenant, Upstream
from longhaul.core.upstreams import routing, service
from longhaul.schemas.common import ListOf
from longhaul.schemas.upstreams import (
    DeletedUpstream,
    SecretsRotation,
    TenantUpstream,
    UpstreamView,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"])


async def require_admin(request: Request) -> None:
    limits = request.app.state.limits
    await limits.check(limits.auth_failures, client_address(request))
    key = bearer_token(request) or ""
    admin = get_settings().admin_api_key
    if not (admin and key and hmac.compare_digest(admin.encode(), key.encode())):
        await limits.hit(limits.auth_failures, client_address(request))
        require_key(key or None)
        # A tenant key learns nothing about the admin API: the same answer as a wrong key.
        raise Unauthorized("This endpoint needs the admin API key.", code="invalid_api_key")


Admin = Annotated[None, Depends(require_admin)]


class UpstreamBody(BaseModel):
    """Create (``name``, ``base_url`` required) or change an upstream; omitted fields stay."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=100)
    kind: str | None = Field(None, description="openai | azure | compatible")
    base_url: str | None = Field(None, description="A query (?api-version=…) is kept as query.")
    auth_style: str | None = Field(None, description="bearer | api-key | headers")
    api_key: str | None = Field(None, description="Stored encrypted; '' removes it.")
    headers: dict[str, str] | None = Field(None, description="Sent on every request; encrypted.")
    query: dict[str, str] | None = Field(None, description="Query parameters on every request.")
    organization: str | None = None
    project: str | None = None
    timeout_seconds: float | None = None
    model_patterns: list[str] | None = Field(None, description="Glob patterns routing models.")
    tenant: str | None = Field(None, description="Owner tenant (its own key); create only.")


class TenantUpstreamBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upstream: str | None = Field(description="Upstream name; null = the environment's.")


def _view(session: Session, row: Upstream) -> dict[str, Any]:
    owner = session.get(Tenant, row.tenant_id).name if row.tenant_id else None  # type: ignore[union-attr]
    return service.describe(row, owner)


@router.get("/upstreams", response_model=ListOf[UpstreamView], responses=documented(401))
async def list_upstreams(_: Admin, tenant: str | None = None) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        rows = service.list_upstreams(session, tenant=tenant)
        return {"object": "list", "data": [_view(session, r) for r in rows]}

    return await run_db(work)


@router.post("/upstreams", response_model=UpstreamView, responses=documented(400, 401, 404, 409))
async def create_upstream(_: Admin, body: UpstreamBody) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        data = service.UpstreamInput(**body.model_dump())
        row = service.add_upstream(session, data, settings=get_settings())
        return _view(session, row)

    view = await run_db(work)
    routing.forget()
    return view


@router.get("/upstreams/{name}", response_model=UpstreamView, responses=documented(401, 404))
async def get_upstream(_: Admin, name: str) -> dict[str, Any]:
    return await run_db(lambda session: _view(session, service.get_upstream(session, name)))


@router.post(
    "/upstreams/{name}", response_model=UpstreamView, responses=documented(400, 401, 404, 409)
)
async def update_upstream(_: Admin, name: str, body: UpstreamBody) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        data = service.UpstreamInput(**body.model_dump(exclude={"tenant", "name"}))
        return _view(session, service.update_upstream(session, name, data, settings=get_settings()))

    view = await run_db(work)
    routing.forget()
    return view


@router.delete(
    "/upstreams/{name}", response_model=DeletedUpstream, responses=documented(401, 404, 409)
)
async def delete_upstream(_: Admin, request: Request, name: str) -> dict[str, Any]:
    row = await run_db(lambda session: service.remove_upstream(session, name))
    routing.forget()
    request.app.state.tenants.clear()  # tenants that defaulted to it
    return {"object": "upstream.deleted", "id": row.id, "name": name, "deleted": True}


@router.post("/secrets/rotate", response_model=SecretsRotation, responses=documented(401))
async def rotate_keys(_: Admin) -> dict[str, Any]:
    """Re-encrypt every stored secret under the first of ``LONGHAUL_SECRET_KEYS``."""
    count = await run_db(lambda session: service.rotate_secrets(session, settings=get_settings()))
    return {"object": "upstream.rotation", "rewritten": count}


@router.put(
    "/tenants/{tenant}/upstream",
    response_model=TenantUpstream,
    responses=documented(400, 401, 404),
)
async def set_tenant_upstream(
    _: Admin, request: Request, tenant: str, body: TenantUpstreamBody
) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        row = service.set_tenant_default(session, tenant, body.upstream)
        name = None
        if row.default_upstream_id:
            name = session.execute(
                select(Upstream.name).where(Upstream.id == row.default_upstream_id)
            ).scalar_one()
        return {"object": "tenant", "name": row.name, "default_upstream": name}

    view = await run_db(work)
    request.app.state.tenants.clear()  # the cached tenant snapshot carries its default
    return view

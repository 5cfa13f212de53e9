"""``/v1/admin/keys``: create, list, expire and revoke tenants' API keys with the admin key
(what ``longhaul keys`` does from the command line). A revoked key stops working in this process
at once and in the others within ``LONGHAUL_AUTH_CACHE_SECONDS``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from longhaul.api.db import run_db
from longhaul.api.errors import documented
from longhaul.api.routes.admin import Admin
from longhaul.core import keys
from longhaul.core.errors import NotFound
from longhaul.core.models import utcnow
from longhaul.schemas.common import ListOf
from longhaul.schemas.keys import ApiKeyView, CreatedApiKey

router = APIRouter(prefix="/v1/admin/keys", tags=["admin"])


class KeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(min_length=1, max_length=100, description="Created if new.")
    name: str | None = Field(None, max_length=200)
    expires_in_days: float | None = Field(None, gt=0, le=36500)


def _view(info: keys.KeyInfo) -> dict[str, Any]:
    return {"object": "api_key", **info.__dict__}


@router.get("", response_model=ListOf[ApiKeyView], responses=documented(400, 401))
async def list_keys(
    _: Admin,
    tenant: str | None = Query(None, max_length=100),
    include_revoked: bool = Query(False, description="Revoked and expired keys too."),
) -> dict[str, Any]:
    rows = await run_db(
        lambda session: keys.list_keys(session, tenant_name=tenant, include_revoked=include_revoked)
    )
    return {"object": "list", "data": [_view(k) for k in rows]}


@router.post("", response_model=CreatedApiKey, responses=documented(400, 401))
async def create_key(_: Admin, body: KeyBody) -> dict[str, Any]:
    """A new key for ``tenant``; the key itself is in this answer only."""

    def work(session: Session) -> dict[str, Any]:
        expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
        key = keys.create_key(session, tenant_name=body.tenant, name=body.name, expires_at=expires)
        info = keys.key_info(session, key)
        return {**_view(info), "key": key}

    return await run_db(work)


@router.post("/{key_id}/revoke", response_model=ApiKeyView, responses=documented(401, 404))
async def revoke_key(_: Admin, request: Request, key_id: str) -> dict[str, Any]:
    """By key id (``key_…``) or the key's first 12 characters; revoking twice is a no-op."""
    info = await run_db(lambda session: keys.revoke_key(session, key_id))
    if info is None:
        raise NotFound(f"No single API key matches {key_id[:12]!r}.", param="key_id")
    request.app.state.tenants.clear()  # this process refuses it at once
    return _view(info)

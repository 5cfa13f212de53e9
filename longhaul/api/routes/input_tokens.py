"""``POST /v1/responses/input_tokens``: count a create body's input tokens on the upstream the
job would run on, after the same ownership checks as a create (nothing foreign goes upstream)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from longhaul.api.db import run_db
from longhaul.api.deps import TenantDep
from longhaul.api.errors import documented
from longhaul.api.proxying import http, reply
from longhaul.core.config import get_settings
from longhaul.core.errors import InvalidInput
from longhaul.core.jobs.intake import parse_body
from longhaul.core.models import Tenant
from longhaul.core.upstreams import ownership, proxy
from longhaul.core.upstreams.clients import spec_for
from longhaul.core.upstreams.spec import UpstreamSpec
from longhaul.schemas.requests import EXTENSION_FIELDS
from longhaul.schemas.tokens import InputTokens

router = APIRouter(tags=["responses"])


def _place(
    session: Session, tenant: Tenant, body: dict[str, Any]
) -> tuple[UpstreamSpec, dict[str, Any]]:
    options = body.get("longhaul") or {}
    named = options.get("upstream") if isinstance(options, dict) else None
    if named is not None and not isinstance(named, str):
        raise InvalidInput("'longhaul.upstream' must be a string.", param="longhaul.upstream")
    upstream_body = {k: v for k, v in body.items() if k not in EXTENSION_FIELDS}
    previous_job_id = ownership.map_previous(session, tenant, upstream_body)
    model = upstream_body.get("model")
    upstream_id = ownership.place(
        session,
        tenant,
        upstream_body,
        model=model if isinstance(model, str) else "",
        named=named,
        previous_job_id=previous_job_id,
    )
    return spec_for(session, upstream_id, settings=get_settings()), upstream_body


@router.post(
    "/v1/responses/input_tokens",
    response_model=InputTokens,
    responses=documented(400, 401, 404),
)
async def count_input_tokens(request: Request, tenant: TenantDep) -> JSONResponse:
    body = parse_body(await request.body())
    spec, upstream_body = await run_db(lambda session: _place(session, tenant, body))
    url, headers, query = proxy.target(spec, "/responses/input_tokens")
    response = await http(request).post(url, params=query, headers=headers, json=upstream_body)
    return reply(response)

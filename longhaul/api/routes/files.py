"""``/v1/files``: OpenAI's Files API, tenant-scoped, streamed both ways. A file is uploaded to the
tenant's default upstream and recorded as the tenant's; lists come from those records; any other
file id is a 404 and never reaches the upstream. Bodies stream through (the API never holds a
whole file); uploads have their own size limit (``LONGHAUL_UPLOAD_MAX_BYTES``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from longhaul.api.db import run_db
from longhaul.api.deps import TenantDep
from longhaul.api.errors import documented
from longhaul.api.proxying import download, segment, send, upload
from longhaul.api.proxying import reply as _reply
from longhaul.core.config import get_settings
from longhaul.core.errors import NotFound
from longhaul.core.jobs import queries
from longhaul.core.models import Tenant
from longhaul.core.upstreams import objects
from longhaul.core.upstreams.clients import spec_for
from longhaul.core.upstreams.spec import UpstreamSpec
from longhaul.schemas.common import Page
from longhaul.schemas.files import DeletedFile, FileObject

router = APIRouter(prefix="/v1/files", tags=["files"])
KIND = "file"


def _default_spec(session: Session, tenant: Tenant) -> tuple[str | None, UpstreamSpec]:
    upstream_id = tenant.default_upstream_id
    return upstream_id, spec_for(session, upstream_id, settings=get_settings())


def _owned_spec(session: Session, tenant: Tenant, file_id: str) -> UpstreamSpec:
    row = objects.owned(session, tenant, KIND, file_id)
    if row is None:
        raise NotFound(f"No such File object: {file_id}", param="id", code="not_found")
    return spec_for(session, row.upstream_id, settings=get_settings())


@router.post("", response_model=FileObject, responses=documented(400, 401, 413))
async def upload_file(request: Request, tenant: TenantDep) -> JSONResponse:
    """The multipart body goes to the upstream as it arrives, chunk by chunk."""
    upstream_id, spec = await run_db(lambda session: _default_spec(session, tenant))
    response = await upload(request, (upstream_id, spec), "/files")
    reply = _reply(response)
    if response.status_code == 200:
        data = response.json()
        await run_db(
            lambda session: objects.record(
                session, tenant, kind=KIND, upstream_id=upstream_id, data=data
            )
        )
    return reply


@router.get("", response_model=Page[FileObject], responses=documented(401))
async def list_files(
    tenant: TenantDep,
    after: str | None = None,
    limit: int = Query(10000, ge=1, le=10000),
    order: str = Query("desc", pattern="^(asc|desc)$"),
    purpose: str | None = None,
) -> dict[str, Any]:
    def page(session: Session) -> dict[str, Any]:
        data, more = objects.listed(session, tenant, KIND, after=after, limit=limit, order=order)
        if purpose:
            data = [d for d in data if d.get("purpose") == purpose]
        return queries.page(data, more)

    return await run_db(page)


@router.get("/{file_id}", response_model=FileObject, responses=documented(401, 404))
async def retrieve_file(file_id: str, request: Request, tenant: TenantDep) -> JSONResponse:
    spec = await run_db(lambda session: _owned_spec(session, tenant, file_id))
    return _reply(await send(request, (None, spec), "GET", f"/files/{segment(file_id)}"))


@router.get(
    "/{file_id}/content",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes."},
        **documented(401, 404),
    },
)
async def file_content(file_id: str, request: Request, tenant: TenantDep) -> Response:
    spec = await run_db(lambda session: _owned_spec(session, tenant, file_id))
    return await download(request, (None, spec), f"/files/{segment(file_id)}/content")


@router.delete("/{file_id}", response_model=DeletedFile, responses=documented(401, 404))
async def delete_file(file_id: str, request: Request, tenant: TenantDep) -> JSONResponse:
    spec = await run_db(lambda session: _owned_spec(session, tenant, file_id))
    response = await send(request, (None, spec), "DELETE", f"/files/{segment(file_id)}")
    if response.status_code in (200, 404):  # gone upstream either way: forget it here
        await run_db(lambda session: objects.forget(session, tenant, KIND, file_id))
    return _reply(response)

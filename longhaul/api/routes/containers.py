"""``/v1/containers``: OpenAI's containers (with files and their content), tenant-scoped. A
container is made on the tenant's default upstream and recorded as its (a container its jobs
made or ran in is its too); file uploads and downloads stream through; any other tenant's
container id is a 404 that never reaches an upstream."""

from __future__ import annotations

from typing import Any

import httpx2
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from longhaul.api.deps import TenantDep
from longhaul.api.errors import documented
from longhaul.api.proxying import Objects, download, reply, upload
from longhaul.api.proxying import segment as seg
from longhaul.core.models import Tenant
from longhaul.core.upstreams.access import Target
from longhaul.schemas.common import Page
from longhaul.schemas.objects import Container, ContainerFile, Deleted

router = APIRouter(prefix="/v1/containers", tags=["containers"])
CONTAINERS = Objects("container", "container_id")
READ, WRITE = documented(401, 404), documented(400, 401, 404, 413)


@router.post("", response_model=Container, responses=WRITE)
async def create_container(request: Request, tenant: TenantDep) -> JSONResponse:
    return await CONTAINERS.create(request, tenant, "/containers")


@router.get("", response_model=Page[Container], responses=documented(400, 401))
async def list_containers(
    tenant: TenantDep,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=100),
    order: str = Query("desc", pattern="^(asc|desc)$"),
) -> Any:
    return await CONTAINERS.page(tenant, after, limit, order)


@router.get("/{container_id}", response_model=Container, responses=READ)
async def retrieve_container(
    container_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/containers/{seg(container_id)}"
    return await CONTAINERS.call(
        request, tenant, container_id, "GET", path, then=CONTAINERS.remember
    )


@router.delete("/{container_id}", response_model=Deleted, responses=READ)
async def delete_container(container_id: str, request: Request, tenant: TenantDep) -> JSONResponse:
    async def forget(tenant: Tenant, target: Target, response: httpx2.Response) -> None:
        await CONTAINERS.forget(tenant, container_id, response)

    path = f"/containers/{seg(container_id)}"
    return await CONTAINERS.call(request, tenant, container_id, "DELETE", path, then=forget)


@router.post("/{container_id}/files", response_model=ContainerFile, responses=WRITE)
async def create_container_file(
    container_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    """A multipart upload (streamed through), or JSON ``{"file_id": …}`` of the tenant's file."""
    path = f"/containers/{seg(container_id)}/files"
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        target = await CONTAINERS.target(tenant, container_id)
        return reply(await upload(request, target, path))
    return await CONTAINERS.call(request, tenant, container_id, "POST", path, with_body=True)


@router.get("/{container_id}/files", response_model=Page[ContainerFile], responses=READ)
async def list_container_files(
    container_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/containers/{seg(container_id)}/files"
    return await CONTAINERS.call(request, tenant, container_id, "GET", path)


@router.get("/{container_id}/files/{file_id}", response_model=ContainerFile, responses=READ)
async def retrieve_container_file(
    container_id: str, file_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/containers/{seg(container_id)}/files/{seg(file_id)}"
    return await CONTAINERS.call(request, tenant, container_id, "GET", path)


@router.delete("/{container_id}/files/{file_id}", response_model=Deleted, responses=READ)
async def delete_container_file(
    container_id: str, file_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/containers/{seg(container_id)}/files/{seg(file_id)}"
    return await CONTAINERS.call(request, tenant, container_id, "DELETE", path)


@router.get(
    "/{container_id}/files/{file_id}/content",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes."},
        **READ,
    },
)
async def container_file_content(
    container_id: str, file_id: str, request: Request, tenant: TenantDep
) -> Response:
    target = await CONTAINERS.target(tenant, container_id)
    return await download(
        request, target, f"/containers/{seg(container_id)}/files/{seg(file_id)}/content"
    )

"""``/v1/vector_stores``: OpenAI's vector stores (with files, file batches and search),
tenant-scoped. A store is made on the tenant's default upstream and recorded as its; lists come
from those records; every route naming another tenant's store, and every body naming another
tenant's file, is a 404 that never reaches an upstream."""

from __future__ import annotations

from typing import Any

import httpx2
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from longhaul.api.deps import TenantDep
from longhaul.api.errors import documented
from longhaul.api.proxying import Objects, send
from longhaul.api.proxying import segment as seg
from longhaul.core.models import Tenant
from longhaul.core.upstreams.access import Target
from longhaul.schemas.common import Page
from longhaul.schemas.objects import (
    Deleted,
    VectorStore,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileContent,
    VectorStoreSearchPage,
)

router = APIRouter(prefix="/v1/vector_stores", tags=["vector stores"])
STORES = Objects("vector_store", "vector_store_id")
READ, WRITE = documented(401, 404), documented(400, 401, 404, 413)


def _refreshed(request: Request, store_id: str) -> Any:
    """After a change to its files: the store re-read, so its record (lists) stays current."""

    async def then(tenant: Tenant, target: Target, response: httpx2.Response) -> None:
        if response.status_code == 200:
            fresh = await send(request, target, "GET", f"/vector_stores/{seg(store_id)}")
            await STORES.remember(tenant, target, fresh)

    return then


@router.post("", response_model=VectorStore, responses=WRITE)
async def create_vector_store(request: Request, tenant: TenantDep) -> JSONResponse:
    return await STORES.create(request, tenant, "/vector_stores")


@router.get("", response_model=Page[VectorStore], responses=documented(400, 401))
async def list_vector_stores(
    tenant: TenantDep,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=100),
    order: str = Query("desc", pattern="^(asc|desc)$"),
) -> Any:
    return await STORES.page(tenant, after, limit, order)


@router.get("/{vector_store_id}", response_model=VectorStore, responses=READ)
async def retrieve_vector_store(
    vector_store_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}"
    return await STORES.call(request, tenant, vector_store_id, "GET", path, then=STORES.remember)


@router.post("/{vector_store_id}", response_model=VectorStore, responses=WRITE)
async def update_vector_store(
    vector_store_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}"
    return await STORES.call(
        request, tenant, vector_store_id, "POST", path, with_body=True, then=STORES.remember
    )


@router.delete("/{vector_store_id}", response_model=Deleted, responses=READ)
async def delete_vector_store(
    vector_store_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    async def forget(tenant: Tenant, target: Target, response: httpx2.Response) -> None:
        await STORES.forget(tenant, vector_store_id, response)

    path = f"/vector_stores/{seg(vector_store_id)}"
    return await STORES.call(request, tenant, vector_store_id, "DELETE", path, then=forget)


@router.post("/{vector_store_id}/search", response_model=VectorStoreSearchPage, responses=WRITE)
async def search_vector_store(
    vector_store_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}/search"
    return await STORES.call(request, tenant, vector_store_id, "POST", path, with_body=True)


@router.post("/{vector_store_id}/files", response_model=VectorStoreFile, responses=WRITE)
async def add_vector_store_file(
    vector_store_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}/files"
    then = _refreshed(request, vector_store_id)
    return await STORES.call(
        request, tenant, vector_store_id, "POST", path, with_body=True, then=then
    )


@router.get("/{vector_store_id}/files", response_model=Page[VectorStoreFile], responses=READ)
async def list_vector_store_files(
    vector_store_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}/files"
    return await STORES.call(request, tenant, vector_store_id, "GET", path)


@router.get("/{vector_store_id}/files/{file_id}", response_model=VectorStoreFile, responses=READ)
async def retrieve_vector_store_file(
    vector_store_id: str, file_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}/files/{seg(file_id)}"
    return await STORES.call(request, tenant, vector_store_id, "GET", path)


@router.post("/{vector_store_id}/files/{file_id}", response_model=VectorStoreFile, responses=WRITE)
async def update_vector_store_file(
    vector_store_id: str, file_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}/files/{seg(file_id)}"
    return await STORES.call(request, tenant, vector_store_id, "POST", path, with_body=True)


@router.delete("/{vector_store_id}/files/{file_id}", response_model=Deleted, responses=READ)
async def delete_vector_store_file(
    vector_store_id: str, file_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}/files/{seg(file_id)}"
    then = _refreshed(request, vector_store_id)
    return await STORES.call(request, tenant, vector_store_id, "DELETE", path, then=then)


@router.get(
    "/{vector_store_id}/files/{file_id}/content",
    response_model=VectorStoreFileContent,
    responses=READ,
)
async def vector_store_file_content(
    vector_store_id: str, file_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}/files/{seg(file_id)}/content"
    return await STORES.call(request, tenant, vector_store_id, "GET", path)


@router.post(
    "/{vector_store_id}/file_batches", response_model=VectorStoreFileBatch, responses=WRITE
)
async def create_file_batch(
    vector_store_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}/file_batches"
    then = _refreshed(request, vector_store_id)
    return await STORES.call(
        request, tenant, vector_store_id, "POST", path, with_body=True, then=then
    )


@router.get(
    "/{vector_store_id}/file_batches/{batch_id}",
    response_model=VectorStoreFileBatch,
    responses=READ,
)
async def retrieve_file_batch(
    vector_store_id: str, batch_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}/file_batches/{seg(batch_id)}"
    return await STORES.call(request, tenant, vector_store_id, "GET", path)


@router.post(
    "/{vector_store_id}/file_batches/{batch_id}/cancel",
    response_model=VectorStoreFileBatch,
    responses=READ,
)
async def cancel_file_batch(
    vector_store_id: str, batch_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}/file_batches/{seg(batch_id)}/cancel"
    return await STORES.call(request, tenant, vector_store_id, "POST", path)


@router.get(
    "/{vector_store_id}/file_batches/{batch_id}/files",
    response_model=Page[VectorStoreFile],
    responses=READ,
)
async def list_file_batch_files(
    vector_store_id: str, batch_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/vector_stores/{seg(vector_store_id)}/file_batches/{seg(batch_id)}/files"
    return await STORES.call(request, tenant, vector_store_id, "GET", path)

"""``/v1/conversations``: OpenAI's conversations (with items), tenant-scoped. A conversation is
made on the tenant's default upstream and recorded as its (one its jobs ran in is its too);
items naming files or containers must name the tenant's; any other tenant's conversation id is
a 404 that never reaches an upstream. OpenAI has no list of conversations, nor does this."""

from __future__ import annotations

import httpx2
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from longhaul.api.deps import TenantDep
from longhaul.api.errors import documented
from longhaul.api.proxying import Objects
from longhaul.api.proxying import segment as seg
from longhaul.core.models import Tenant
from longhaul.core.upstreams.access import Target
from longhaul.schemas.objects import Conversation, ConversationItem, Deleted, ItemList

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])
CONVERSATIONS = Objects("conversation", "conversation_id")
READ, WRITE = documented(401, 404), documented(400, 401, 404, 413)


@router.post("", response_model=Conversation, responses=WRITE)
async def create_conversation(request: Request, tenant: TenantDep) -> JSONResponse:
    return await CONVERSATIONS.create(request, tenant, "/conversations")


@router.get("/{conversation_id}", response_model=Conversation, responses=READ)
async def retrieve_conversation(
    conversation_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/conversations/{seg(conversation_id)}"
    return await CONVERSATIONS.call(
        request, tenant, conversation_id, "GET", path, then=CONVERSATIONS.remember
    )


@router.post("/{conversation_id}", response_model=Conversation, responses=WRITE)
async def update_conversation(
    conversation_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/conversations/{seg(conversation_id)}"
    return await CONVERSATIONS.call(
        request,
        tenant,
        conversation_id,
        "POST",
        path,
        with_body=True,
        then=CONVERSATIONS.remember,
    )


@router.delete("/{conversation_id}", response_model=Deleted, responses=READ)
async def delete_conversation(
    conversation_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    async def forget(tenant: Tenant, target: Target, response: httpx2.Response) -> None:
        await CONVERSATIONS.forget(tenant, conversation_id, response)

    path = f"/conversations/{seg(conversation_id)}"
    return await CONVERSATIONS.call(request, tenant, conversation_id, "DELETE", path, then=forget)


@router.post("/{conversation_id}/items", response_model=ItemList, responses=WRITE)
async def create_items(conversation_id: str, request: Request, tenant: TenantDep) -> JSONResponse:
    path = f"/conversations/{seg(conversation_id)}/items"
    return await CONVERSATIONS.call(request, tenant, conversation_id, "POST", path, with_body=True)


@router.get("/{conversation_id}/items", response_model=ItemList, responses=READ)
async def list_items(conversation_id: str, request: Request, tenant: TenantDep) -> JSONResponse:
    path = f"/conversations/{seg(conversation_id)}/items"
    return await CONVERSATIONS.call(request, tenant, conversation_id, "GET", path)


@router.get("/{conversation_id}/items/{item_id}", response_model=ConversationItem, responses=READ)
async def retrieve_item(
    conversation_id: str, item_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/conversations/{seg(conversation_id)}/items/{seg(item_id)}"
    return await CONVERSATIONS.call(request, tenant, conversation_id, "GET", path)


@router.delete("/{conversation_id}/items/{item_id}", response_model=Conversation, responses=READ)
async def delete_item(
    conversation_id: str, item_id: str, request: Request, tenant: TenantDep
) -> JSONResponse:
    path = f"/conversations/{seg(conversation_id)}/items/{seg(item_id)}"
    return await CONVERSATIONS.call(request, tenant, conversation_id, "DELETE", path)

"""Plain HTTP to upstreams for the pass-through routes (``/v1/files``, vector stores,
containers, conversations, input token counts): one connection pool per API process, bodies
streamed where they may be large, and upstream replies returned as they came."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx2
from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from longhaul.api.db import run_db
from longhaul.core.errors import InvalidInput, Transient
from longhaul.core.jobs import intake
from longhaul.core.models import Tenant
from longhaul.core.upstreams import access, objects, proxy
from longhaul.core.upstreams.access import Target

# Query parameters a client may pass on to an upstream list or retrieve.
PASSED_QUERY = ("after", "before", "limit", "order", "filter", "include", "include[]")
# Passed back from the upstream's reply on content downloads.
PASSED_HEADERS = ("content-type", "content-length", "content-disposition")


def http(request: Request) -> httpx2.AsyncClient:
    """One connection pool per API process for every proxied upstream call."""
    client = getattr(request.app.state, "upstream_http", None)
    if client is None:
        client = request.app.state.upstream_http = httpx2.AsyncClient(
            timeout=httpx2.Timeout(30.0, read=600.0, write=600.0), follow_redirects=False
        )
    return client


async def _sent(request: Request, sent: httpx2.Request, *, stream: bool = False) -> httpx2.Response:
    """The upstream's answer; an upstream that cannot be reached is a 503 (retry), never a 500."""
    try:
        return await http(request).send(sent, stream=stream)
    except httpx2.HTTPError as exc:
        raise Transient(
            f"The upstream could not be reached ({type(exc).__name__}); retry.",
            retry_after=1,
            code="upstream_unreachable",
        ) from exc


def reply(response: httpx2.Response) -> JSONResponse:
    """The upstream's JSON and status (a non-JSON body becomes an OpenAI-shaped error)."""
    try:
        body = response.json()
    except ValueError:
        body = {
            "error": {
                "message": response.text[:500],
                "type": "upstream_error",
                "param": None,
                "code": None,
            }
        }
    return JSONResponse(body, status_code=response.status_code)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (the edge has bounded its size and checked its JSON)."""
    raw = await request.body()
    return intake.parse_body(raw) if raw else {}


def _query(request: Request, spec_query: dict[str, str]) -> httpx2.QueryParams:
    passed: list[tuple[str, Any]] = [
        (k, v) for k, v in request.query_params.multi_items() if k in PASSED_QUERY
    ]
    return httpx2.QueryParams(passed + list(spec_query.items()))  # api-version always goes


async def send(
    request: Request,
    target: Target,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
) -> httpx2.Response:
    """One call to the target upstream (the client's list/include query passed on)."""
    url, headers, query = proxy.target(target[1], path)
    sent = http(request).build_request(
        method, url, params=_query(request, query), headers=headers, json=body
    )
    return await _sent(request, sent)


async def upload(request: Request, target: Target, path: str) -> httpx2.Response:
    """The multipart body goes to the upstream as it arrives, chunk by chunk."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise InvalidInput("Upload a file as multipart/form-data.", param="file")
    url, headers, query = proxy.target(target[1], path)
    headers["content-type"] = content_type
    if length := request.headers.get("content-length"):
        headers["content-length"] = length
    sent = http(request).build_request(
        "POST", url, params=query, headers=headers, content=request.stream()
    )
    return await _sent(request, sent)


async def download(request: Request, target: Target, path: str) -> Response:
    """The upstream's bytes streamed back as they arrive (an error answer as JSON)."""
    url, headers, query = proxy.target(target[1], path)
    sent = http(request).build_request("GET", url, params=query, headers=headers)
    response = await _sent(request, sent, stream=True)
    if response.status_code != 200:
        await response.aread()
        await response.aclose()
        return reply(response)
    passed = {k: v for k, v in response.headers.items() if k.lower() in PASSED_HEADERS}
    return StreamingResponse(
        response.aiter_raw(), headers=passed, background=BackgroundTask(response.aclose)
    )


class Objects:
    """The proxy of one kind of upstream object (``vector_store``, ``container``, …): creates
    go to the tenant's default upstream and are recorded as its; any call naming an object first
    finds where the tenant's lives, or answers 404 without asking any upstream."""

    def __init__(self, kind: str, param: str) -> None:
        self.kind, self.param = kind, param

    async def target(
        self, tenant: Tenant, object_id: str | None, body: dict[str, Any] | None = None
    ) -> Target:
        if object_id is None:
            return await run_db(lambda s: access.for_create(s, tenant, body))
        return await run_db(
            lambda s: access.for_object(
                s, tenant, self.kind, object_id, param=self.param, body=body
            )
        )

    async def remember(self, tenant: Tenant, target: Target, response: httpx2.Response) -> None:
        if response.status_code == 200:
            data = response.json()
            await run_db(lambda s: access.remember(s, tenant, self.kind, target[0], data))

    async def forget(self, tenant: Tenant, object_id: str, response: httpx2.Response) -> None:
        if response.status_code in (200, 404):  # gone upstream either way: forget it here
            await run_db(lambda s: objects.forget(s, tenant, self.kind, object_id))

    async def create(self, request: Request, tenant: Tenant, path: str) -> JSONResponse:
        body = await json_body(request)
        target = await self.target(tenant, None, body)
        response = await send(request, target, "POST", path, body=body)
        await self.remember(tenant, target, response)
        return reply(response)

    async def call(
        self,
        request: Request,
        tenant: Tenant,
        object_id: str,
        method: str,
        path: str,
        *,
        with_body: bool = False,
        then: Callable[[Tenant, Target, httpx2.Response], Any] | None = None,
    ) -> JSONResponse:
        """A call on (or under) the tenant's object; ``then`` records what it changed."""
        body = await json_body(request) if with_body else None
        target = await self.target(tenant, object_id, body)
        response = await send(request, target, method, path, body=body)
        if then is not None:
            await then(tenant, target, response)
        return reply(response)

    async def page(self, tenant: Tenant, after: str | None, limit: int, order: str) -> Any:
        def read(session: Session) -> dict[str, Any]:
            return access.page(session, tenant, self.kind, after=after, limit=limit, order=order)

        return await run_db(read)


def segment(value: str) -> str:
    """A client-given id as one path segment of an upstream URL (never a way out of it)."""
    if value in (".", ".."):
        raise InvalidInput(f"Invalid id: {value!r}.", param="id", code="invalid_value")
    return quote(value, safe="")

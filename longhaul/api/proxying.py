"""Plain HTTP to upstreams for the pass-through routes (``/v1/files``, input token counts): one
connection pool per API process, and upstream replies returned as they came."""

from __future__ import annotations

import httpx2
from fastapi import Request
from fastapi.responses import JSONResponse


def http(request: Request) -> httpx2.AsyncClient:
    """One connection pool per API process for every proxied upstream call."""
    client = getattr(request.app.state, "upstream_http", None)
    if client is None:
        client = request.app.state.upstream_http = httpx2.AsyncClient(
            timeout=httpx2.Timeout(30.0, read=600.0, write=600.0), follow_redirects=False
        )
    return client


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

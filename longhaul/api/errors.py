"""The one place where errors become HTTP: OpenAI's ``{"error": {...}}`` shape, never a 500 page."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import httpx2
import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from longhaul.api.limits import RateLimited
from longhaul.core import errors
from longhaul.schemas.errors import ErrorDetail, ErrorResponse

log = logging.getLogger(__name__)

STATUS = {
    RateLimited: 429,
    errors.TooManyActiveJobs: 429,
    errors.InvalidInput: 400,
    errors.Unauthorized: 401,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.BudgetExceeded: 402,
    errors.Transient: 503,
    errors.Permanent: 400,
}
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    429: "requests",
    415: "invalid_request_error",
    503: "server_error",
}


WHEN = {
    400: "Invalid request: ``param`` names the field (never FastAPI's 422).",
    401: "Missing or unknown API key.",
    402: "The tenant's monthly budget cannot hold this job's maximum cost.",
    404: "No such object for this tenant (another tenant's objects are 404 too).",
    408: "The request body did not arrive within ``LONGHAUL_BODY_READ_TIMEOUT``.",
    409: "Conflicts with the object's state (e.g. deleting a running job).",
    413: "Request body too large.",
    429: "Rate limit reached; retry after ``Retry-After`` seconds.",
    503: "Database or broker briefly unavailable; retry after ``Retry-After``.",
}


class Outages:
    """One log line per outage episode of a dependency, not one per request: a refusal is logged
    when none was in the last ``quiet`` seconds, with how many were refused silently since."""

    def __init__(self, quiet: float = 60.0) -> None:
        self.quiet = quiet
        self._last: dict[str, float] = {}
        self._silent: dict[str, int] = {}

    def refused(self, what: str, request: Request, exc: BaseException) -> None:
        now = time.monotonic()
        last = self._last.get(what)
        if last is not None and now - last < self.quiet:
            self._silent[what] = self._silent.get(what, 0) + 1
            return
        silent = self._silent.pop(what, 0)
        self._last[what] = now
        more = f" ({silent} more refused since the last line)" if silent else ""
        log.warning(
            "%s unavailable, answering 503%s; first on %s %s: %s",
            what,
            more,
            request.method,
            request.url.path,
            str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
        )


def unavailable(what: str, code: str) -> JSONResponse:
    response = error_response(503, f"The {what} is briefly unavailable; retry.", code=code)
    response.headers["Retry-After"] = "1"
    return response


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status in OpenAI's error shape (503 always added, 429
    with 401)."""
    wanted = {*statuses, 503}
    if 401 in wanted:  # whoever authenticates may be rate limited (api/limits.py)
        wanted.add(429)
    return {
        status: {"model": ErrorResponse, "description": WHEN[status]} for status in sorted(wanted)
    }


def error_response(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> JSONResponse:
    kind = TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = ErrorResponse(error=ErrorDetail(message=message, type=kind, param=param, code=code))
    return JSONResponse(body.model_dump(), status_code=status)


def install(app: FastAPI) -> None:
    outages = Outages()

    @app.exception_handler(errors.LonghaulError)
    async def _domain(request: Request, exc: errors.LonghaulError) -> JSONResponse:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        response = error_response(status, exc.message, code=exc.code, param=exc.param)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        response.headers.update(getattr(exc, "headers", {}))
        return response

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # A connection lost with the server (the pool is then refreshed) or no connection in
        # time: the client may retry; the SDKs do so on 503 by themselves.
        lost = isinstance(exc, PoolTimeout | OperationalError) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated
        )
        if not lost:
            return await _unexpected(request, exc)
        outages.refused("database", request, exc)
        return unavailable("database", "database_unavailable")

    @app.exception_handler(redis.exceptions.ConnectionError)
    @app.exception_handler(redis.exceptions.TimeoutError)
    @app.exception_handler(BrokerError)
    async def _broker(request: Request, exc: Exception) -> JSONResponse:
        outages.refused("redis", request, exc)
        return unavailable("broker", "broker_unavailable")

    @app.exception_handler(httpx2.TransportError)
    async def _upstream(request: Request, exc: Exception) -> JSONResponse:
        # A call to the upstream (token counts, a job's input items) could not reach it: the
        # same answer as the proxies give (``proxying._sent``), retryable.
        outages.refused("upstream", request, exc)
        response = error_response(
            503,
            f"The upstream could not be reached ({type(exc).__name__}); retry.",
            code="upstream_unreachable",
        )
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        param = ".".join(loc) or None
        where = f"'{param}'" if param else "request body"
        return error_response(
            400,
            f"Invalid {where}: {first.get('msg', 'invalid value')}",
            param=param,
            code="invalid_value",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = f"Unknown path: {request.method} {request.url.path}"
        return error_response(exc.status_code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "The server had an error processing your request.")

"""The one place where errors become HTTP: OpenAI's ``{"error": {...}}`` shape, never a 500 page."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from longhaul.core import errors
from longhaul.schemas.errors import ErrorDetail, ErrorResponse

log = logging.getLogger(__name__)

STATUS = {
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
    503: "Database or broker briefly unavailable; retry after ``Retry-After``.",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status in OpenAI's error shape (503 always added)."""
    return {
        status: {"model": ErrorResponse, "description": WHEN[status]}
        for status in sorted({*statuses, 503})
    }


def error_response(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> JSONResponse:
    kind = TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = ErrorResponse(error=ErrorDetail(message=message, type=kind, param=param, code=code))
    return JSONResponse(body.model_dump(), status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.LonghaulError)
    async def _domain(request: Request, exc: errors.LonghaulError) -> JSONResponse:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        response = error_response(status, exc.message, code=exc.code, param=exc.param)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
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
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        response = error_response(
            503, "The database is briefly unavailable; retry.", code="database_unavailable"
        )
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        param = ".".join(loc) or None
        return error_response(
            400,
            f"Invalid '{param}': {first.get('msg', 'invalid value')}",
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

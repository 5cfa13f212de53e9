"""What a handler returns (``Reply``), OpenAI-shaped errors, and who is calling (``Caller``,
per request in a context variable), shared by the response and object handlers."""

from __future__ import annotations

import contextvars
import email.policy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from typing import Any

from .blobs import Blob
from .render import cursor_page, error_body

Query = Mapping[str, list[str]]


@dataclass(frozen=True)
class Caller:
    """Who sent a request and how: the key and its header, and (Azure form) the api-version."""

    key: str | None = None
    scheme: str | None = None  # "bearer" | "api-key"
    api_version: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


NOBODY = Caller()
caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("caller", default=NOBODY)
content_type: contextvars.ContextVar[str] = contextvars.ContextVar("content_type", default="")


def visible(owner_key: str | None, key_scoped: bool) -> bool:
    """With ``key_scoped`` an object belongs to the key that made it (like an OpenAI project):
    another key is told it does not exist."""
    if not key_scoped or owner_key is None:
        return True
    key = caller.get().key
    return key is None or key == owner_key


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    blob: Blob | None = None
    drop: bool = False
    hang: bool = False  # no answer at all until the client closes the connection
    stream: Iterator[bytes] | None = None  # a text/event-stream body (streaming.py)


def error(
    status: int, message: str, type_: str, code: str | None = None, param: str | None = None
) -> Reply:
    return Reply(status, error_body(message, type_, code, param))


def not_found(what: str, ident: str, param: str | None = None) -> Reply:
    return error(
        404, f"No {what} found with id '{ident}'.", "invalid_request_error", "not_found", param
    )


def bad_request(message: str, param: str | None = None, code: str | None = None) -> Reply:
    return error(400, message, "invalid_request_error", code, param)


def multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes, str]] | None:
    """``name → (filename, bytes, content type)`` of a multipart/form-data body."""
    if not content_type.startswith("multipart/form-data"):
        return None
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, tuple[str | None, bytes, str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            data = part.get_payload(decode=True)
            fields[name] = (
                part.get_filename(),
                data if isinstance(data, bytes) else b"",
                part.get_content_type(),
            )
    return fields


def page(data: list[dict[str, Any]], query: Query, *, default_order: str) -> Reply:
    """A cursor page (``after``, ``limit`` 1..100, ``order``) over ``data`` (oldest first)."""
    order = (query.get("order") or [default_order])[0]
    after = query["after"][0] if query.get("after") else None
    try:
        limit = int((query.get("limit") or ["20"])[0])
    except ValueError:
        limit = -1
    if order not in ("asc", "desc"):
        return bad_request("order must be 'asc' or 'desc'.", "order", "invalid_value")
    if not 1 <= limit <= 100:
        return bad_request("limit must be between 1 and 100.", "limit", "invalid_value")
    return Reply(200, cursor_page(data, after=after, limit=limit, order=order))

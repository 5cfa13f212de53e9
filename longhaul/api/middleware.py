"""The edge: every request body is bounded in size and in time, and checked (``api/edge.py``),
before any route, dependency or database connection sees the request.

- A body is read whole, within ``LONGHAUL_BODY_READ_TIMEOUT`` seconds, up to
  ``LONGHAUL_MAX_BODY_BYTES`` (else 408 or 413), then handed to the app. A client that trickles
  its body therefore costs a coroutine, never a thread or a pooled connection.
- Uploads (``multipart/form-data``) stream through instead: up to ``LONGHAUL_UPLOAD_MAX_BYTES``,
  and each chunk must arrive within the timeout (a stalled upload is cut with a 408).
- NUL characters in path and query, and JSON the API will not take (NaN, Infinity, numbers out
  of range, integers beyond 64 bits, nesting deeper than 64, NUL or lone surrogates in strings)
  get a 400 naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import anyio
import anyio.to_thread
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from longhaul.api import edge
from longhaul.api.errors import error_response

_INLINE_JSON_BYTES = 256 * 1024  # bigger bodies are checked in a thread, off the event loop
_FORMS = (b"multipart/form-data", b"application/x-www-form-urlencoded")


@lru_cache
def _checkers() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(4)


class _Cut(Exception):
    """The body broke a bound while the app was reading it (streamed uploads)."""


class EdgeGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        upload_max_bytes: int,
        read_timeout: float,
        router: Callable[[], Router] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes
        self.read_timeout = read_timeout
        self.router = router  # to name a path parameter that holds a NUL

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._check_url(scope)
        if refusal is not None:
            await _refuse(scope, receive, send, 400, refusal.message, refusal.param, refusal.code)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        streamed = content_type == b"multipart/form-data"
        limit = self.upload_max_bytes if streamed else self.max_bytes
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _too_large(scope, receive, send, limit)
            return
        if streamed:
            await self._stream(scope, receive, send, limit)
            return
        body = await self._read(receive, limit)
        if body is None:  # the client left
            return
        if isinstance(body, int):
            if body == 413:
                await _too_large(scope, receive, send, limit)
            else:
                await _timed_out(scope, receive, send, self.read_timeout)
            return
        if body and content_type not in _FORMS:
            if len(body) > _INLINE_JSON_BYTES:
                refusal = await anyio.to_thread.run_sync(edge.check_json, body, limiter=_checkers())
            else:
                refusal = edge.check_json(body)
            if refusal is not None:
                await _refuse(
                    scope, receive, send, 400, refusal.message, refusal.param, refusal.code
                )
                return
        await self.app(scope, _replay(body, receive), send)

    def _check_url(self, scope: Scope) -> edge.Refusal | None:
        refusal = edge.check_query(scope.get("query_string", b""))
        if refusal is not None:
            return refusal
        path = scope.get("path", "")
        if "\x00" not in path:
            return None
        params: dict[str, object] = {}
        if self.router is not None:
            for route in self.router().routes:
                match, child = route.matches(scope)
                if match == Match.FULL:
                    params = child.get("path_params", {})
                    break
        return edge.check_path(path, params.items())

    async def _read(self, receive: Receive, limit: int) -> bytes | int | None:
        """The whole body; 413 or 408 when it breaks a bound; None if the client left."""
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.read_timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    return 413
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        return 408

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        seen = 0
        cut: int | None = None
        started = False

        async def bounded() -> Message:
            nonlocal seen, cut
            message: Message | None = None
            with anyio.move_on_after(self.read_timeout):
                message = await receive()
            if message is None:
                cut = 408
                raise _Cut
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    cut = 413
                    raise _Cut
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded, watched)
        except Exception:
            # The cut may come back wrapped (e.g. by the HTTP client streaming it upstream).
            if cut is None:
                raise
        if cut is not None and not started:
            if cut == 413:
                await _too_large(scope, receive, send, limit)
            else:
                await _timed_out(scope, receive, send, self.read_timeout)


def _replay(body: bytes, receive: Receive) -> Receive:
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # then the client's disconnect, as the server reports it

    return replay


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    close: bool = False,
) -> None:
    response = error_response(status, message, code=code, param=param)
    if close:  # the rest of the body is not read: the connection cannot be reused
        response.headers["connection"] = "close"
    await response(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    await _refuse(
        scope,
        receive,
        send,
        413,
        f"Request body exceeds the limit of {limit} bytes.",
        code="body_too_large",
        close=True,
    )


async def _timed_out(scope: Scope, receive: Receive, send: Send, timeout: float) -> None:
    await _refuse(
        scope,
        receive,
        send,
        408,
        f"The request body did not arrive within {timeout:g} seconds.",
        code="request_timeout",
        close=True,
    )

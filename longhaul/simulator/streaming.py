"""Server-sent event streams: ``POST /v1/responses`` with ``stream: true`` and
``GET /v1/responses/{id}?stream=true[&starting_after=N]``.

Each connection is one thread (the HTTP server's) that writes the response's events (see
``events.py``) as their time comes, and ``: keepalive`` comments during long gaps. Like
upstream, a resume is refused once the response is older than ``stream_resume_seconds``
(OpenAI: 5 minutes) and for responses not created with ``background: true``. Scenario
``streamdrop:N`` cuts the first stream of a response after N events (no terminating chunk),
as a dropped connection would.
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from .config import SimulatorConfig
from .events import Timed, build_events
from .state import ResponseRecord, SimState


class StreamCut(Exception):
    """Raised by a stream to close the connection mid-body."""


class StreamRefused(Exception):
    """A stream request the upstream refuses (HTTP 400)."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param, self.code = param, code


def query_flag(query: Mapping[str, list[str]], name: str, default: bool = False) -> bool:
    values = query.get(name)
    if not values:
        return default
    return values[0].strip().lower() in ("1", "true", "yes")


class Streamer:
    """Opens event streams for simulated responses; ``wake()`` after a cancel or delete."""

    def __init__(self, config: SimulatorConfig, state: SimState) -> None:
        self.config = config
        self.state = state
        self._cond = threading.Condition()
        self._stopped = False

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def events(self, record: ResponseRecord) -> list[Timed]:
        with self.state.lock:
            if record.stream_events is None:
                record.stream_events = build_events(record)
            return record.stream_events

    def timeline(self, record: ResponseRecord) -> list[dict[str, Any]]:
        """When each event is (or was) sent: ``[{sequence_number, type, at}]`` (benchmarks)."""
        return [
            {"sequence_number": n, "type": t.event["type"], "at": t.at}
            for n, t in enumerate(self.events(record))
            if math.isfinite(t.at)
        ]

    def open(self, record: ResponseRecord, *, obfuscate: bool = True) -> Iterator[bytes]:
        """The stream answering a create with ``stream: true`` (from the first event)."""
        return self._stream(record, 0, obfuscate)

    def resume(self, record: ResponseRecord, query: Mapping[str, list[str]]) -> Iterator[bytes]:
        """The stream answering ``GET ?stream=true``; raises ``StreamRefused`` as upstream does."""
        if not record.background:
            raise StreamRefused(
                "This response cannot be streamed because it was not created with background=true.",
                "stream",
            )
        limit = self.config.stream_resume_seconds
        if time.time() - record.created > limit:
            raise StreamRefused(
                "This response can no longer be streamed because it is more than "
                f"{_age(limit)} old.",
            )
        values = query.get("starting_after") or []
        raw = values[0] if values else None
        start = 0
        if raw is not None:
            try:
                start = int(raw) + 1
            except ValueError:
                raise StreamRefused(
                    "Invalid 'starting_after': expected an integer.",
                    "starting_after",
                    "invalid_value",
                ) from None
            if start < 0:
                raise StreamRefused(
                    "Invalid 'starting_after': must not be below -1.",
                    "starting_after",
                    "invalid_value",
                )
        return self._stream(record, start, query_flag(query, "include_obfuscation", True))

    def _stream(self, record: ResponseRecord, start: int, obfuscate: bool) -> Iterator[bytes]:
        with self.state.lock:
            record.streams_opened += 1
            first = record.streams_opened == 1
        cut = record.scenario.streamdrop if first and record.scenario.streamdrop else None
        return self._iterate(record, self.events(record)[start:], cut, obfuscate)

    def _iterate(
        self, record: ResponseRecord, timed: list[Timed], cut: int | None, obfuscate: bool
    ) -> Iterator[bytes]:
        keepalive = self.config.stream_keepalive_seconds
        for sent, item in enumerate(timed):
            last_write = time.monotonic()
            while True:
                with self._cond:
                    if self._stopped or self.state.get(record.id) is None:
                        return
                    cancelled = record.cancelled_at
                    if cancelled is not None and cancelled < item.at:
                        return  # no stream event for a cancel: the stream just ends
                    wait = item.at - time.time()
                    if wait <= 0:
                        break
                    idle = keepalive - (time.monotonic() - last_write)
                    if idle > 0:
                        self._cond.wait(min(wait, idle))
                        continue
                last_write = time.monotonic()
                yield b": keepalive\n\n"
            if cut is not None and sent >= cut:
                raise StreamCut
            yield encode(item.event, obfuscate)


def encode(event: dict[str, Any], obfuscate: bool = False) -> bytes:
    """One SSE frame: ``event: <type>`` and ``data: <json>``."""
    if obfuscate and str(event.get("type", "")).endswith(".delta"):
        event = {**event, "obfuscation": secrets.token_urlsafe(4 + secrets.randbelow(12))}
    data = json.dumps(event, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


def _age(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} seconds"


class _Handler(Protocol):
    close_connection: bool
    connection: socket.socket

    def send_response(self, code: int, message: str | None = None) -> None: ...
    def send_header(self, keyword: str, value: str) -> None: ...
    def end_headers(self) -> None: ...

    @property
    def wfile(self) -> Any: ...


def write_stream(handler: _Handler, chunks: Iterator[bytes], headers: Mapping[str, str]) -> None:
    """Write ``chunks`` as a chunked ``text/event-stream`` body; ``StreamCut`` drops the socket."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("x-request-id", f"req_{secrets.token_hex(16)}")
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    try:
        for chunk in chunks:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except StreamCut:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)
        return
    handler.wfile.write(b"0\r\n\r\n")

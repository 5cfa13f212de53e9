"""The HTTP transport: a stdlib ``ThreadingHTTPServer`` (one thread per connection).

The stdlib server is used rather than an ASGI stack because it gives full control of the
socket: a *dropped connection* really closes the TCP connection before any byte of a response
is written, and file bodies are written chunk by chunk straight to the socket.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .app import Reply, Simulator
from .config import SimulatorConfig
from .render import error_body
from .streaming import write_stream

log = logging.getLogger("longhaul.simulator")
HANG_SECONDS = 120.0


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # ~300 pollers connect at once in benchmarks

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "longhaul-simulator"
    timeout = 120  # idle keep-alive connections release their thread after this
    server: SimulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle + delayed ACK
        # add ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        try:
            reply = self.server.simulator.handle(
                method, url.path, parse_qs(url.query), self.headers, body
            )
        except Exception:
            log.exception("simulator error on %s %s", method, self.path)
            reply = Reply(500, error_body("Internal simulator error.", "server_error"))
        if reply.drop:
            self._drop()
            return
        if reply.hang:
            self._hang()
            return
        try:
            self._send(reply, started)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _drop(self) -> None:
        """Close the TCP connection without writing any HTTP response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _hang(self) -> None:
        """Answer nothing until the client gives up and closes (at most ``HANG_SECONDS``)."""
        deadline = time.monotonic() + HANG_SECONDS
        with contextlib.suppress(OSError):
            self.connection.settimeout(0.1)
            while time.monotonic() < deadline:
                try:
                    if not self.connection.recv(4096):
                        break
                except TimeoutError:
                    continue
        self._drop()

    def _send(self, reply: Reply, started: float) -> None:
        if reply.stream is not None:
            write_stream(self, reply.stream, reply.headers)
            return
        if reply.blob is not None:
            content_type, size, payload = reply.blob.content_type, reply.blob.size, None
        else:
            payload = json.dumps(reply.body).encode()
            content_type, size = "application/json", len(payload)
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(size))
        self.send_header("x-request-id", f"req_{secrets.token_hex(16)}")
        ms = int((time.perf_counter() - started) * 1000)
        self.send_header("openai-processing-ms", str(ms))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload is not None:
            self.wfile.write(payload)
        elif reply.blob is not None:
            for chunk in reply.blob.chunks():
                self.wfile.write(chunk)


class SimulatorHandle:
    """A simulator serving HTTP from a background thread; use as a context manager."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.simulator = Simulator(config)
        self._server = SimulatorHTTPServer((config.host, config.port), self.simulator)
        address = self._server.server_address
        host, port = str(address[0]), int(address[1])
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        self.root_url = f"http://{host}:{port}"
        self.url = f"{self.root_url}/v1"
        self.port = port
        self.simulator.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="sim-http", daemon=True
        )
        self._stopped = False

    @property
    def state(self) -> Any:
        return self.simulator.state

    def start(self) -> SimulatorHandle:
        self.simulator.start()
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI); ``stop()`` from another thread ends it."""
        self.simulator.start()
        self._server.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self.simulator.stop()

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_simulator(config: SimulatorConfig | None = None, **overrides: Any) -> SimulatorHandle:
    """Start a simulator on a background thread and return its handle (``.url`` ends in /v1).

    Keyword arguments are ``SimulatorConfig`` fields (``queued_seconds=0.05``, ``webhook_url=``,
    ...). Environment variables are *not* read here, so tests are not affected by them.
    """
    base = config or SimulatorConfig()
    if overrides:
        base = SimulatorConfig(**{**base.__dict__, **overrides})
    return SimulatorHandle(base).start()

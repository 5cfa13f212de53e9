"""A real HTTP proxy in front of the simulator that fails some file downloads on purpose."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2


class FlakyProxy:
    def __init__(self, target: str, failures: int, status: int = 503) -> None:
        self.target = target.rstrip("/")
        self.failures = failures  # per file-content path; -1 = always
        self.status = status
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.url = ""

    def should_fail(self, path: str) -> bool:
        if not path.endswith("/content"):
            return False
        with self.lock:
            self.seen[path] += 1
            return self.failures < 0 or self.seen[path] <= self.failures


@contextmanager
def flaky_proxy(target_v1: str, failures: int, status: int = 503) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(target_v1.removesuffix("/v1"), failures, status)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if proxy.should_fail(self.path):
                body = b'{"error": {"message": "injected", "type": "server_error"}}'
                self.send_response(proxy.status)
                self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            headers = {"Authorization": self.headers.get("Authorization", "")}
            with httpx2.stream("GET", proxy.target + self.path, headers=headers) as upstream:
                self.send_response(upstream.status_code)
                for name in ("content-type", "content-length"):
                    if name in upstream.headers:
                        self.send_header(name, upstream.headers[name])
                self.end_headers()
                for chunk in upstream.iter_raw():
                    self.wfile.write(chunk)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()

"""Webhook receivers for end-to-end tests and benches: ones that hang (accept the POST, never
answer until released) and ones that answer at once, each on its own loopback port."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Counts POSTs; ``hang`` ones hold each request open until ``release`` (or ``max_hold``);
    others wait ``delay`` seconds, then answer ``status`` (with ``retry_after`` if set)."""

    def __init__(
        self,
        *,
        hang: bool = False,
        status: int = 204,
        max_hold: float = 120.0,
        delay: float = 0.0,
        retry_after: str | None = None,
    ) -> None:
        self.hang, self.status, self.max_hold = hang, status, max_hold
        self.delay, self.retry_after = delay, retry_after
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.received = 0
        self.holding = 0  # requests held open right now
        self.first_at: dict[str, float] = {}  # webhook-id -> first arrival (monotonic)
        self.answered_ok: Counter[str] = Counter()  # webhook-id -> 2xx answers written
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                webhook_id = self.headers.get("webhook-id", "")
                with receiver.lock:
                    receiver.received += 1
                    receiver.first_at.setdefault(webhook_id, time.monotonic())
                    receiver.holding += receiver.hang
                if receiver.hang:
                    receiver.release.wait(receiver.max_hold)
                    with receiver.lock:
                        receiver.holding -= 1
                elif receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(receiver.status)
                    if receiver.retry_after:
                        self.send_header("retry-after", receiver.retry_after)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    self.wfile.flush()
                except OSError:  # the sender gave up while we held it
                    return
                if 200 <= receiver.status < 300:
                    with receiver.lock:
                        receiver.answered_ok[webhook_id] += 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receivers(n: int, **kwargs: Any) -> Iterator[list[Receiver]]:
    with ExitStack() as stack:
        made = [Receiver(**kwargs) for _ in range(n)]
        for r in made:
            stack.callback(r.close)
        yield made

"""A tiny webhook receiver on loopback for `longhaul demo`: records each delivery and checks its
Standard Webhooks signature when it knows the tenant's ``whsec_`` secret."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    headers: dict[str, str]
    body: dict[str, Any]
    signature_ok: bool | None  # None: no secret to check with


@dataclass
class WebhookReceiver:
    secrets: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver._record(raw, headers)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None  # the demo prints its own summary

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _record(self, raw: bytes, headers: dict[str, str]) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"unparsed": raw[:200].decode(errors="replace")}
        with self._lock:
            self.deliveries.append(Delivery(headers, body, self._verify(raw, headers)))

    def _verify(self, raw: bytes, headers: dict[str, str]) -> bool | None:
        if not self.secrets:
            return None
        from standardwebhooks import Webhook

        for secret in self.secrets:
            try:
                Webhook(secret).verify(raw, headers)
                return True
            except Exception:  # the library raises its own WebhookVerificationError
                continue
        return False

    def for_job(self, job_id: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if _job_id(d.body) == job_id]


def _job_id(body: dict[str, Any]) -> str | None:
    data = body.get("data")
    return data.get("id") if isinstance(data, dict) else None

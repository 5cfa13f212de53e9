"""Webhook test kit: a real HTTP receiver on loopback, compressed settings, job rows, a bounded
delivery loop (what the beat tick and the deliver task do, without Celery)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from longhaul.core.config import get_settings
from longhaul.core.models import Job, Tenant, utcnow
from longhaul.core.webhooks.delivery import deliver_due, deliver_one
from tests.support.factories import add_job

SCHEDULE = [0, 0.1, 0.1, 0.1]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_with: list[int]  # indexes of the receiver's secrets that verified this request
    status: int


@dataclass
class Receiver:
    """Answers ``plan`` codes in turn (then ``then``); verifies each body with every secret."""

    secrets: list[str] = field(default_factory=list)
    plan: list[int] = field(default_factory=list)
    then: int = 204
    redirect_to: str | None = None
    retry_after: str | None = None  # sent with every non-2xx answer
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        verified = []
        for index, secret in enumerate(self.secrets):
            try:
                Webhook(secret).verify(body, headers)
                verified.append(index)
            except Exception:
                pass
        status = self.plan.pop(0) if self.plan else self.then
        extra = {"location": self.redirect_to} if self.redirect_to and 300 <= status < 400 else {}
        if self.retry_after and not 200 <= status < 300:
            extra["retry-after"] = self.retry_after
        self.requests.append(Received(path, headers, body, verified, status))
        return status, extra

    @property
    def delivered(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                status, extra = state.answer(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            payload = json.dumps({"ok": 200 <= status < 300}).encode()
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def wh_settings(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    """Compressed schedule, short timeouts, loopback allowed (tests override per case)."""
    monkeypatch.setenv("LONGHAUL_WEBHOOK_SCHEDULE_SECONDS", json.dumps(SCHEDULE))
    monkeypatch.setenv("LONGHAUL_WEBHOOK_ALLOW_HOSTS", json.dumps(["127.0.0.1"]))
    monkeypatch.setenv("LONGHAUL_WEBHOOK_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("LONGHAUL_WEBHOOK_READ_TIMEOUT", "2")
    # Schedules play out in full; the circuit breaker has its own tests (test_destinations.py).
    monkeypatch.setenv("LONGHAUL_WEBHOOK_CIRCUIT_FAILURES", "1000")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def set_env(monkeypatch: pytest.MonkeyPatch, name: str, value: Any) -> None:
    monkeypatch.setenv(name, value if isinstance(value, str) else json.dumps(value))
    get_settings.cache_clear()


def make_job(
    session: Session,
    tenant: Tenant,
    *,
    status: str = "completed",
    webhook_url: str | None = None,
    upstream_response_id: str | None = None,
) -> Job:
    now = utcnow()
    return add_job(
        session,
        tenant.id,
        commit=False,
        status=status,
        model="gpt-test",
        request_body={"model": "gpt-test", "input": "hi"},
        request_hash=uuid.uuid4().hex,
        webhook_url=webhook_url,
        job_metadata={"order": "42"},
        upstream_response_id=upstream_response_id or f"resp_{uuid.uuid4().hex}",
        output_text="Hello there." if status == "completed" else None,
        usage={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        error={"code": "server_error", "message": "boom"} if status == "failed" else None,
        finished_at=now if status in ("completed", "failed", "cancelled", "incomplete") else None,
    )


def drive(
    session: Session,
    until: Callable[[], bool],
    *,
    timeout: float = 15.0,
    deliveries: Sequence[str] = (),
) -> int:
    """Play the worker in this process: run ``deliveries`` (messages taken off the broker), beat
    ticks and the ``deliver`` messages they send (captured, not put on the broker) until
    ``until()`` or ``timeout``; returns attempts."""
    from longhaul.core import messages

    deadline = time.monotonic() + timeout
    attempts = 0
    sent: list[messages.Message] = [messages.deliver(d) for d in deliveries]
    previous = messages.install(sent.extend)
    try:
        while time.monotonic() < deadline:
            while sent:
                message = sent.pop(0)
                assert message.task == messages.DELIVER
                if deliver_one(session, *message.args) is not None:
                    attempts += 1
                session.commit()
            if until():
                return attempts
            time.sleep(0.02)
            deliver_due(session, utcnow())
            session.commit()
    finally:
        messages.install(previous)
    raise AssertionError(f"condition not met within {timeout}s ({attempts} attempts made)")


def purge_messages(queue: str, needle: str) -> int:
    """Remove the messages for ``needle`` (a job or delivery id) from a broker queue; returns how
    many there were. Tests that send real Celery messages leave the broker as they found it."""
    import base64

    import redis

    from longhaul.worker.app import app as celery_app

    r = redis.Redis.from_url(str(celery_app.conf.broker_url))
    found = 0
    for raw in r.lrange(queue, 0, -1):
        if needle.encode() in base64.b64decode(json.loads(raw)["body"]):
            found += r.lrem(queue, 0, raw)
    return found

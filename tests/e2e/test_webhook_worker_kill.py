"""A Celery worker SIGKILLed (whole process group) while it is in the middle of webhook POSTs,
then a new worker started: every event is delivered, with the same ``webhook-id`` and the same
signed bytes on every attempt, and none is lost.

The receiver holds the first request of each event open until the worker is dead, so the kill
lands mid-POST for every event (a fixed sleep would race the slowest job). The worker that gets
killed is started with one pool process per event, so all of them are in flight at once.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2 as httpx
import openai
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.stack import Stack, wait_for

pytestmark = pytest.mark.e2e
EVENTS = 5
MAX_HOLD = 10.0  # below the worker's 15 s read timeout: a held POST must not time out


@dataclass
class Hit:
    webhook_id: str
    timestamp: int
    body: bytes
    job_id: str | None
    verified: bool
    held: bool


@dataclass
class Receiver:
    """Verifies every request with the tenant secret; holds each event's first request open
    until ``release`` (or ``MAX_HOLD``), answers 204 otherwise."""

    secret: str = ""
    hits: list[Hit] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers["content-length"]))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            data = Webhook(self.secret).verify(body, headers)
            verified, job_id = True, data["data"]["id"]
        except (WebhookVerificationError, KeyError, ValueError):
            verified, job_id = False, None
        webhook_id = headers.get("webhook-id", "")
        with self.lock:
            held = all(h.webhook_id != webhook_id for h in self.hits)
            self.hits.append(
                Hit(
                    webhook_id,
                    int(headers.get("webhook-timestamp", 0)),
                    body,
                    job_id,
                    verified,
                    held,
                )
            )
        if held:
            self.release.wait(MAX_HOLD)
        try:
            handler.send_response(204)
            handler.end_headers()
        except OSError:  # the sender died while we held it: expected for held requests
            pass

    def by_event(self) -> dict[str, list[Hit]]:
        with self.lock:
            grouped: dict[str, list[Hit]] = {}
            for hit in self.hits:
                grouped.setdefault(hit.webhook_id, []).append(hit)
            return grouped


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec.handle(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield rec
    rec.release.set()
    server.shutdown()
    server.server_close()


def test_worker_killed_mid_delivery_then_restarted(
    client: openai.OpenAI, stack: Stack, api_key: str, receiver: Receiver
) -> None:
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {api_key}"}
    secret = httpx.get(f"{stack.api_url}/v1/webhook_secret", headers=headers)
    assert secret.status_code == 200, secret.text
    receiver.secret = secret.json()["secret"]

    # Swap the fixture's 2-process worker for one wide enough to hold every POST at once.
    stack.procs["worker"].stop()
    victim = stack.start_worker("worker-wide", concurrency=EVENTS + 2)

    ids = [
        client.responses.create(
            model="gpt-5.5",
            input=f"event {i}",
            background=True,
            extra_body={"webhook": {"url": receiver.url}},
        ).id
        for i in range(EVENTS)
    ]

    def deliveries(job_id: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{stack.api_url}/v1/jobs/{job_id}/deliveries", headers=headers)
        assert r.status_code == 200, r.text
        return list(r.json()["data"])

    wait_for(lambda: len(receiver.by_event()) == EVENTS, 45, interval=0.05, what="every first POST")
    assert not receiver.release.is_set()
    victim.kill(signal.SIGKILL)  # every event's first POST is still held open
    assert victim.popen.poll() is not None
    # The cut-off attempts left no trace: nothing delivered, nothing recorded.
    for job_id in ids:
        (only,) = deliveries(job_id)
        assert only["status"] == "pending" and only["attempt_count"] == 0, only
    receiver.release.set()

    stack.start_worker("worker2")

    def all_delivered() -> bool:
        return all(d["status"] == "delivered" for j in ids for d in deliveries(j))

    wait_for(all_delivered, 45, interval=0.5, what="every delivery after the restart")

    events = receiver.by_event()
    assert len(events) == EVENTS
    for job_id in ids:
        (delivery,) = deliveries(job_id)
        assert 200 <= delivery["last_status_code"] < 300, delivery
        assert any(200 <= (a["status_code"] or 0) < 300 for a in delivery["attempts"]), delivery
        hits = events[delivery["event_id"]]
        # The held (killed) attempt and at least one more, all the same event, bytes and id.
        assert len(hits) >= 2, hits
        assert all(h.verified for h in hits), hits
        assert {h.job_id for h in hits} == {job_id}
        assert len({h.body for h in hits}) == 1
        assert [h.held for h in hits] == [True] + [False] * (len(hits) - 1)
        assert hits[-1].timestamp >= hits[0].timestamp
    # Every job id got its event; no other event showed up.
    assert sorted(h.job_id for hs in events.values() for h in hs[:1]) == sorted(ids)
    assert time.monotonic() - started < 90

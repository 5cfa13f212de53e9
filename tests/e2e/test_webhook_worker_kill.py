"""A Celery worker SIGKILLed (whole process group) while it is in the middle of webhook POSTs,
then a new worker started: every event is delivered, with the same ``webhook-id`` and the same
signed bytes on every attempt, and none is lost.

The receiver holds the first request of each event open until the worker is dead, so the kill
lands mid-POST (a fixed sleep would race the slowest job). Two shapes: a worker with one pool
process per event (every event in flight at the kill), and the default two-process worker (two
events in flight, the other jobs still polling or finalizing behind them).
"""

from __future__ import annotations

import signal
import threading
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
    cut: bool  # arrived before the kill: held open until the worker died


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
            first = all(h.webhook_id != webhook_id for h in self.hits)
            cut = first and not self.release.is_set()
            self.hits.append(
                Hit(
                    webhook_id,
                    int(headers.get("webhook-timestamp", 0)),
                    body,
                    job_id,
                    verified,
                    cut,
                )
            )
        if cut:
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


@pytest.mark.parametrize("concurrency", [EVENTS + 2, 2], ids=["all-in-flight", "default-2"])
def test_worker_killed_mid_delivery_then_restarted(
    client: openai.OpenAI, stack: Stack, api_key: str, receiver: Receiver, concurrency: int
) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    secret = httpx.get(f"{stack.api_url}/v1/webhook_secret", headers=headers)
    assert secret.status_code == 200, secret.text
    receiver.secret = secret.json()["secret"]

    for name, proc in list(stack.procs.items()):  # a fresh victim of the wanted width
        if name.startswith("worker"):
            proc.stop()
    # Every event in flight at once to the one receiver: above its per-receiver bound.
    wide = {"LONGHAUL_WEBHOOK_DESTINATION_CONCURRENCY": str(EVENTS + 2)}
    victim = stack.start_worker(
        f"worker-victim-{concurrency}", concurrency=concurrency, extra_env=wide
    )
    in_flight = min(EVENTS, concurrency)

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

    wait_for(
        lambda: len(receiver.by_event()) == in_flight, 45, interval=0.05, what="the first POSTs"
    )
    victim.kill(signal.SIGKILL)  # each of those POSTs is still held open
    assert victim.popen.poll() is not None
    cut = set(receiver.by_event())
    assert len(cut) == in_flight
    # The cut-off attempts left no trace: nothing delivered, nothing recorded.
    for job_id in ids:
        for d in deliveries(job_id):
            assert d["status"] == "pending" and d["attempt_count"] == 0, d
    receiver.release.set()

    stack.start_worker(f"worker-after-{concurrency}", extra_env=wide)

    def all_delivered() -> bool:
        # Every job has its delivery (one still finalizing has none yet) and each is delivered.
        per_job = [deliveries(j) for j in ids]
        return all(ds and all(d["status"] == "delivered" for d in ds) for ds in per_job)

    wait_for(all_delivered, 90, interval=0.5, what="every delivery after the restart")

    events = receiver.by_event()
    assert len(events) == EVENTS
    for job_id in ids:
        (delivery,) = deliveries(job_id)
        assert 200 <= delivery["last_status_code"] < 300, delivery
        assert any(200 <= (a["status_code"] or 0) < 300 for a in delivery["attempts"]), delivery
        hits = events[delivery["event_id"]]
        assert all(h.verified for h in hits), hits
        assert {h.job_id for h in hits} == {job_id}
        assert len({h.body for h in hits}) == 1  # the same signed bytes on every attempt
        assert hits[-1].timestamp >= hits[0].timestamp
        if delivery["event_id"] in cut:  # the killed attempt, then at least one more
            assert len(hits) >= 2 and [h.cut for h in hits] == [True] + [False] * (len(hits) - 1)
        else:
            assert not any(h.cut for h in hits)
    # Every job id got its event; no other event showed up.
    assert sorted(str(hs[0].job_id) for hs in events.values()) == sorted(ids)

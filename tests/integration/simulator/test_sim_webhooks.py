"""Outbound ``response.*`` webhooks, verified with the official SDK."""

from __future__ import annotations

import base64
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest

from longhaul.simulator import start_simulator

SECRET = "whsec_" + base64.b64encode(b"simulator-test-secret-0123456789").decode()


class Receiver:
    """A loopback HTTP server recording webhook deliveries; fails the first ``fail_first``."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: queue.Queue[tuple[bytes, dict[str, str]]] = queue.Queue()
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(503)
                else:
                    receiver.received.put((body, {k.lower(): v for k, v in self.headers.items()}))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def test_webhook_fires_without_polling(receiver: Receiver) -> None:
    with start_simulator(
        queued_seconds=0.05, run_seconds=0.1, webhook_url=receiver.url, webhook_secret=SECRET
    ) as sim:
        client = openai.OpenAI(base_url=sim.url, api_key="k", max_retries=0, webhook_secret=SECRET)
        created = client.responses.create(model="gpt-5.5", input="hi", background=True)
        body, headers = receiver.received.get(timeout=5)
        event = client.webhooks.unwrap(body, headers)
        assert event.type == "response.completed"
        assert event.data.id == created.id
        assert event.id.startswith("evt_")
        assert headers["webhook-id"] == event.id
        assert headers["webhook-signature"].startswith("v1,")
        # the event arrived at the terminal time: the response is already complete
        assert client.responses.retrieve(created.id).status == "completed"
        wrong = openai.OpenAI(base_url=sim.url, api_key="k", webhook_secret="whsec_" + "A" * 32)
        with pytest.raises(openai.InvalidWebhookSignatureError):
            wrong.webhooks.unwrap(body, headers)


@pytest.mark.parametrize(
    ("scenario", "event_type"),
    [
        ("fail", "response.failed"),
        ("incomplete", "response.incomplete"),
        ("cancelled", "response.cancelled"),
    ],
)
def test_webhook_event_types(receiver: Receiver, scenario: str, event_type: str) -> None:
    with start_simulator(
        queued_seconds=0.0, run_seconds=0.05, webhook_url=receiver.url, webhook_secret=SECRET
    ) as sim:
        client = openai.OpenAI(base_url=sim.url, api_key="k", webhook_secret=SECRET)
        client.responses.create(
            model="gpt-5.5", input="hi", background=True, metadata={"longhaul_sim": scenario}
        )
        body, headers = receiver.received.get(timeout=5)
        assert client.webhooks.unwrap(body, headers).type == event_type


def test_cancel_sends_cancelled_webhook_once(receiver: Receiver) -> None:
    with start_simulator(webhook_url=receiver.url, webhook_secret=SECRET) as sim:
        client = openai.OpenAI(base_url=sim.url, api_key="k", webhook_secret=SECRET)
        created = client.responses.create(
            model="gpt-5.5", input="hi", background=True, metadata={"longhaul_sim": "slow:0.2"}
        )
        client.responses.cancel(created.id)
        client.responses.cancel(created.id)
        body, headers = receiver.received.get(timeout=5)
        assert client.webhooks.unwrap(body, headers).type == "response.cancelled"
        with pytest.raises(queue.Empty):
            receiver.received.get(timeout=0.6)  # original terminal time passes: no 2nd event


def test_webhook_retried_after_failure() -> None:
    receiver = Receiver(fail_first=1)
    try:
        with start_simulator(
            queued_seconds=0.0, run_seconds=0.05, webhook_url=receiver.url, webhook_secret=SECRET
        ) as sim:
            client = openai.OpenAI(base_url=sim.url, api_key="k", webhook_secret=SECRET)
            created = client.responses.create(model="gpt-5.5", input="hi", background=True)
            body, headers = receiver.received.get(timeout=5)
            assert client.webhooks.unwrap(body, headers).data.id == created.id
            deadline = 50
            while deadline and not sim.state.get(created.id).webhooks:
                threading.Event().wait(0.05)
                deadline -= 1
            (delivery,) = sim.state.get(created.id).webhooks
            assert delivery["delivered"] is True
            assert delivery["attempts"] == 2
    finally:
        receiver.close()

"""Inbound OpenAI webhooks: signature, replay, unknown ids, waking the job; end to end with the
simulator sending signed webhooks to the API over real HTTP."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import openai
import pytest
import redis
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.errors import InvalidInput
from longhaul.core.models import Job, Tenant, utcnow
from longhaul.core.models.webhooks import InboundWebhook
from longhaul.core.webhooks.inbound import handle_openai_webhook
from longhaul.core.webhooks.signing import generate_secret
from longhaul.simulator import start_simulator
from longhaul.simulator.webhooks import build_event, sign
from tests.integration.webhooks.conftest import make_job, purge_messages, set_env
from tests.support.infra import free_port, wait_for_port

SECRET = generate_secret()


def openai_event(response_id: str, kind: str = "completed") -> tuple[bytes, dict[str, str]]:
    """An event as OpenAI sends it (the simulator's builder and signer)."""
    event = build_event(kind, response_id, time.time())
    body = json.dumps(event, separators=(",", ":"))
    return body.encode(), sign(SECRET, event["id"], time.time(), body)


def running_job(session: Session, tenant: Tenant, response_id: str | None = None) -> Job:
    job = make_job(session, tenant, status="in_progress", upstream_response_id=response_id)
    job.next_poll_at = utcnow() + timedelta(hours=1)
    session.commit()
    return job


def poll_messages(broker_url: str, job_id: str) -> list[dict[str, object]]:
    """``longhaul.jobs.poll`` messages for ``job_id`` waiting in the broker's ``poll`` queue."""
    found = []
    for raw in redis.Redis.from_url(broker_url).lrange("poll", 0, -1):
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        if message["headers"]["task"] == "longhaul.jobs.poll" and args[:1] == [job_id]:
            found.append(message)
    return found


def test_good_event_wakes_the_job_once(session: Session, tenant: Tenant) -> None:
    job = running_job(session, tenant)
    body, headers = openai_event(job.upstream_response_id or "")
    before = utcnow()

    assert handle_openai_webhook(session, body, headers, SECRET) == job.id
    session.commit()
    session.refresh(job)
    assert job.next_poll_at is not None and before <= job.next_poll_at <= utcnow()
    row = session.get_one(InboundWebhook, headers["webhook-id"])
    assert (row.type, row.response_id, row.job_id) == (
        "response.completed",
        job.upstream_response_id,
        job.id,
    )

    # The same delivery again (OpenAI retries at least once): deduplicated.
    assert handle_openai_webhook(session, body, headers, SECRET) is None


def test_bad_signatures_are_refused(session: Session, tenant: Tenant) -> None:
    job = running_job(session, tenant)
    body, headers = openai_event(job.upstream_response_id or "")
    cases = [
        (body + b" ", headers),
        (body, {**headers, "webhook-signature": "v1,AAAA"}),
        (body, {**headers, "webhook-signature": "garbage"}),
        (body, {k: v for k, v in headers.items() if k != "webhook-signature"}),
        (body, {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}),
    ]
    for raw, hdrs in cases:
        with pytest.raises(InvalidInput):
            handle_openai_webhook(session, raw, hdrs, SECRET)
    with pytest.raises(InvalidInput):
        handle_openai_webhook(session, body, headers, generate_secret())
    session.rollback()
    assert session.get(InboundWebhook, headers["webhook-id"]) is None


def test_unknown_response_id_is_logged_and_ignored(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    body, headers = openai_event("resp_nobody_knows")
    with caplog.at_level(logging.WARNING, logger="longhaul.core.webhooks.inbound"):
        assert handle_openai_webhook(session, body, headers, SECRET) is None
    session.commit()
    assert "unknown response id resp_nobody_knows" in caplog.text


def test_finished_job_is_not_polled_again(session: Session, tenant: Tenant) -> None:
    job = make_job(session, tenant, status="completed")
    session.commit()
    body, headers = openai_event(job.upstream_response_id or "")
    assert handle_openai_webhook(session, body, headers, SECRET) is None


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str) -> Iterator[TestClient]:
    set_env(monkeypatch, "LONGHAUL_OPENAI_WEBHOOK_SECRET", SECRET)
    from longhaul.api.app import create_app

    with TestClient(create_app()) as client:
        yield client


def test_api_route_answers_and_sends_the_poll_task(
    api: TestClient, session: Session, tenant: Tenant
) -> None:
    from longhaul.worker.app import app as celery_app

    broker = str(celery_app.conf.broker_url)
    job = running_job(session, tenant)
    body, headers = openai_event(job.upstream_response_id or "")

    bad = api.post("/v1/webhooks/openai", content=body + b"x", headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_signature"
    ok = api.post("/v1/webhooks/openai", content=body, headers=headers)
    assert ok.status_code == 200 and ok.json()["job_id"] == job.id
    replay = api.post("/v1/webhooks/openai", content=body, headers=headers)
    assert replay.status_code == 200 and replay.json()["job_id"] is None
    unknown_body, unknown_headers = openai_event("resp_unknown_to_us")
    unknown = api.post("/v1/webhooks/openai", content=unknown_body, headers=unknown_headers)
    assert unknown.status_code == 200 and unknown.json()["job_id"] is None

    assert len(poll_messages(broker, job.id)) == 1
    assert purge_messages("poll", job.id) == 1


@pytest.fixture
def live_api(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str) -> Iterator[str]:
    set_env(monkeypatch, "LONGHAUL_OPENAI_WEBHOOK_SECRET", SECRET)
    from longhaul.api.app import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port("127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_simulator_webhook_wakes_the_job_end_to_end(
    live_api: str, session: Session, tenant: Tenant
) -> None:
    with start_simulator(  # queued long enough for the job row to exist before the webhook
        queued_seconds=1.5,
        run_seconds=0.2,
        webhook_url=f"{live_api}/v1/webhooks/openai",
        webhook_secret=SECRET,
    ) as sim:
        client = openai.OpenAI(base_url=sim.url, api_key="sk-test", max_retries=0)
        response = client.responses.create(model="gpt-4.1-mini", input="hi", background=True)
        job = running_job(session, tenant, response_id=response.id)

        deadline = time.monotonic() + 15
        row = None
        while row is None and time.monotonic() < deadline:
            time.sleep(0.05)
            session.expire_all()
            row = session.execute(
                select(InboundWebhook).where(InboundWebhook.response_id == response.id)
            ).scalar_one_or_none()
        assert row is not None, "the simulator's webhook never arrived"
        assert (row.type, row.job_id) == ("response.completed", job.id)
        session.refresh(job)
        assert job.next_poll_at is not None and job.next_poll_at <= utcnow()

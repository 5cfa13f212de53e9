"""The whole path in real processes: simulator → inbound OpenAI webhook → API → poll → finalize →
outbox → worker → the caller's receiver, signature verified. Polling is set to 30 s so only the
inbound webhook can make the job finish within the test's 20 s."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key
from longhaul.core.models import Tenant
from longhaul.core.models.webhooks import InboundWebhook
from longhaul.core.webhooks.signing import generate_secret
from longhaul.simulator import start_simulator
from tests.integration.webhooks.conftest import Receiver
from tests.support.infra import free_port, own_database
from tests.support.stack import Stack, base_env, wait_http

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def database_url(pg_server_url: str) -> Iterator[str]:
    """Its own database: the stack's sweep takes due jobs oldest first, and jobs other modules
    left due would go before this one."""
    with own_database(pg_server_url) as url:
        yield url


def test_job_webhook_arrives_signed_woken_by_openai_webhook(
    database_url: str, redis_url: str, session: Session, tenant: Tenant, receiver: Receiver
) -> None:
    redis.Redis.from_url(redis_url).flushdb()
    key = create_api_key(session, tenant_name=tenant.name)
    session.commit()
    inbound_secret = generate_secret()
    port = free_port()
    with (
        start_simulator(
            queued_seconds=0.1,
            run_seconds=1.0,
            webhook_url=f"http://127.0.0.1:{port}/v1/webhooks/openai",
            webhook_secret=inbound_secret,
        ) as sim,
        tempfile.TemporaryDirectory(prefix="longhaul-wh-e2e-") as tmp,
    ):
        env = base_env(database_url, redis_url, sim.url)
        env.update(
            LONGHAUL_OPENAI_API_KEY="sk-test",
            LONGHAUL_OPENAI_WEBHOOK_SECRET=inbound_secret,
            LONGHAUL_POLL_INITIAL_SECONDS="30",
            LONGHAUL_POLL_MAX_SECONDS="30",
        )
        stack = Stack(env=env, workdir=Path(tmp))
        try:
            stack.start("api", "api", "--host", "127.0.0.1", "--port", str(port))
            stack.api_url = f"http://127.0.0.1:{port}"
            wait_http(f"{stack.api_url}/healthz", stack.procs["api"])
            stack.start_worker()
            stack.start("beat", "beat")
            auth = {"authorization": f"Bearer {key}"}
            secret = httpx.get(f"{stack.api_url}/v1/webhook_secret", headers=auth).json()["secret"]
            receiver.secrets = [secret]

            client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=key, max_retries=0)
            created = client.responses.create(
                model="gpt-4.1-mini",
                input="Say hello",
                background=True,
                extra_body={"webhook": {"url": receiver.url}},
            )
            deadline = time.monotonic() + 20
            while not receiver.delivered and time.monotonic() < deadline:
                time.sleep(0.1)
            assert receiver.delivered, "no webhook within 20 s\n" + stack.logs()

            [event] = receiver.delivered
            assert event.verified_with == [0]
            envelope = json.loads(event.body)
            assert envelope["type"] == "response.completed"
            data = envelope["data"]
            assert data["id"] == created.id and data["status"] == "completed"
            assert data["output_text"] and data["usage"]["total_tokens"] > 0
            assert data["cost"] is not None and "artifacts" in data

            deliveries = httpx.get(
                f"{stack.api_url}/v1/jobs/{created.id}/deliveries", headers=auth
            ).json()["data"]
            assert [d["status"] for d in deliveries] == ["delivered"]
            assert deliveries[0]["event_id"] == event.headers["webhook-id"]
            woke = session.scalars(
                select(InboundWebhook.type).where(InboundWebhook.job_id == created.id)
            ).all()
            assert woke == ["response.completed"]  # the OpenAI webhook is what woke the job
        finally:
            stack.stop_all()

"""The tenant-facing webhook API: endpoints, signing secret, a job's deliveries, redelivery."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from longhaul.core.auth import create_api_key
from longhaul.core.models import Tenant
from longhaul.core.webhooks.outbox import record_final_event
from longhaul.schemas.jobs import JobSummary
from longhaul.schemas.webhooks import WebhookEvent
from tests.integration.webhooks.conftest import Receiver, drive, make_job, purge_messages

pytestmark = pytest.mark.usefixtures("wh_settings")


@pytest.fixture
def client(database_url: str, redis_url: str) -> Iterator[TestClient]:
    from longhaul.api.app import create_app

    with TestClient(create_app()) as c:
        yield c


def auth(session: Session, tenant: Tenant) -> dict[str, str]:
    key = create_api_key(session, tenant_name=tenant.name)
    session.commit()
    return {"authorization": f"Bearer {key}"}


def test_endpoint_crud_and_validation(client: TestClient, session: Session, tenant: Tenant) -> None:
    h = auth(session, tenant)
    made = client.post(
        "/v1/webhook_endpoints",
        json={"url": "https://example.com/hook", "event_types": ["response.failed"]},
        headers=h,
    )
    assert made.status_code == 200, made.text
    endpoint = made.json()
    assert endpoint["event_types"] == ["response.failed"] and endpoint["status"] == "enabled"
    every = client.post("/v1/webhook_endpoints", json={"url": "https://e.com/2"}, headers=h).json()
    assert len(every["event_types"]) == 5  # four job events and budget.threshold_reached
    listed = client.get("/v1/webhook_endpoints", headers=h).json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"], every["id"]]

    for bad in (
        {"url": "ftp://example.com"},
        {"url": "https://user:pw@example.com/"},
        {"url": "https://example.com/", "event_types": ["batch.completed"]},
    ):
        r = client.post("/v1/webhook_endpoints", json=bad, headers=h)
        assert r.status_code == 400 and r.json()["error"]["message"]

    assert client.delete(f"/v1/webhook_endpoints/{endpoint['id']}", headers=h).json()["deleted"]
    assert client.delete(f"/v1/webhook_endpoints/{endpoint['id']}", headers=h).status_code == 404
    assert client.get("/v1/webhook_endpoints").status_code == 401


def test_secret_rotation_through_the_api(
    client: TestClient, session: Session, tenant: Tenant
) -> None:
    h = auth(session, tenant)
    first = client.get("/v1/webhook_secret", headers=h).json()
    assert first["secret"].startswith("whsec_") and first["previous"] == []
    assert client.get("/v1/webhook_secret", headers=h).json()["secret"] == first["secret"]
    rotated = client.post("/v1/webhook_secret/rotate", headers=h).json()
    assert rotated["secret"] != first["secret"] and rotated["previous_valid_for_seconds"] > 0
    now = client.get("/v1/webhook_secret", headers=h).json()
    assert now["secret"] == rotated["secret"] and now["previous"] == [first["secret"]]


def test_deliveries_and_redeliver(
    client: TestClient, session: Session, tenant: Tenant, receiver: Receiver
) -> None:
    h = auth(session, tenant)
    receiver.secrets = [client.get("/v1/webhook_secret", headers=h).json()["secret"]]
    receiver.plan = [500]
    job = make_job(session, tenant, webhook_url=receiver.url)
    session.commit()
    assert client.post(f"/v1/jobs/{job.id}/deliveries/redeliver", headers=h).status_code == 409
    record_final_event(session, job)
    session.commit()
    drive(session, lambda: len(receiver.delivered) == 1)

    [d] = client.get(f"/v1/jobs/{job.id}/deliveries", headers=h).json()["data"]
    assert (d["status"], d["event_type"], d["url"]) == (
        "delivered",
        "response.completed",
        receiver.url,
    )
    assert [a["status_code"] for a in d["attempts"]] == [500, 204]
    assert d["attempts"][0]["response_body"] == '{"ok": false}'

    again = client.post(f"/v1/jobs/{job.id}/deliveries/redeliver", headers=h)
    assert again.status_code == 200 and again.json()["data"][0]["status"] == "pending"
    assert purge_messages("webhooks", d["id"]) == 1  # sent at once, not left to the next tick
    drive(session, lambda: len(receiver.delivered) == 2, deliveries=[d["id"]])
    first, second = receiver.delivered
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    Webhook(receiver.secrets[0]).verify(second.body, second.headers)
    event = WebhookEvent.model_validate_json(first.body)  # the POSTed body is the declared model
    assert isinstance(event.data, JobSummary) and event.data.id == job.id
    assert event.model_dump(mode="json") == json.loads(first.body)  # nothing lost or added

    stranger = auth(session, _other_tenant(session))
    assert client.get(f"/v1/jobs/{job.id}/deliveries", headers=stranger).status_code == 404


def _other_tenant(session: Session) -> Tenant:
    import uuid

    t = Tenant(id=f"ten_{uuid.uuid4().hex[:12]}", name=f"other-{uuid.uuid4().hex[:8]}")
    session.add(t)
    session.commit()
    return t

"""Smaller hardening: per-job webhook URLs refused at intake, the webhook secret read without a
side effect, a deleted job never brought back by its Idempotency-Key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key
from longhaul.core.models import Job, Tenant, utcnow
from longhaul.core.models.webhooks import WebhookSecret

OK = {"model": "gpt-4.1", "input": "hi", "background": True}


@pytest.fixture(scope="module")
def api(database_url: str, redis_url: str) -> Iterator[TestClient]:
    from longhaul.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def auth(session: Session) -> dict[str, str]:
    key = create_api_key(session, tenant_name=f"small-{uuid.uuid4().hex[:8]}")
    session.commit()
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pass@example.com/hook",
        "https://user@example.com/hook",
        "http://example.com:0/hook",
        "http://[::1/hook",
        "ftp://example.com/hook",
    ],
)
def test_job_webhook_urls_are_refused_at_intake(
    api: TestClient, auth: dict[str, str], url: str
) -> None:
    reply = api.post("/v1/responses", json={**OK, "webhook": {"url": url}}, headers=auth)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == "webhook.url"


def test_reading_the_webhook_secret_creates_nothing(
    api: TestClient, session: Session, tenant: Tenant
) -> None:
    count = select(func.count()).select_from(WebhookSecret)
    mine = count.where(WebhookSecret.tenant_id == tenant.id)
    key = create_api_key(session, tenant_name=tenant.name)  # a key brings the first secret
    session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    first = api.get("/v1/webhook_secret", headers=headers).json()
    assert first["secret"].startswith("whsec_") and session.execute(mine).scalar_one() == 1
    # A tenant without one (an older tenant): GET is a 404 that says how to make one, and
    # changes nothing; rotating makes the first.
    session.query(WebhookSecret).filter(WebhookSecret.tenant_id == tenant.id).delete()
    session.commit()
    for _ in range(3):
        reply = api.get("/v1/webhook_secret", headers=headers)
        assert (
            reply.status_code == 404 and reply.json()["error"]["code"] == "webhook_secret_missing"
        )
    assert session.execute(mine).scalar_one() == 0
    assert api.post("/v1/webhook_secret/rotate", headers=headers).status_code == 200
    assert api.get("/v1/webhook_secret", headers=headers).json()["previous"] == []


def test_a_deleted_job_never_returns_through_its_idempotency_key(
    api: TestClient, session: Session, auth: dict[str, str]
) -> None:
    headers = {**auth, "Idempotency-Key": f"once-{uuid.uuid4().hex}"}
    created = api.post("/v1/responses", json=OK, headers=headers).json()
    job = session.get_one(Job, created["id"])
    job.status = "completed"  # as if it ran (a running job must be cancelled first)
    session.commit()
    assert api.delete(f"/v1/responses/{created['id']}", headers=auth).json()["deleted"]
    again = api.post("/v1/responses", json=OK, headers=headers)
    assert again.status_code == 200 and again.json()["id"] != created["id"]
    assert "idempotent-replayed" not in again.headers
    # A job deleted before keys were released on delete: its key is refused, not replayed.
    session.expire_all()
    job = session.get_one(Job, again.json()["id"])
    job.deleted_at = utcnow()
    session.commit()
    old = api.post("/v1/responses", json=OK, headers=headers)
    assert old.status_code == 409, old.text
    assert old.json()["error"]["code"] == "idempotency_key_deleted"

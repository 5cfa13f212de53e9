"""``/v1/admin/keys``: the admin key creates, lists, expires and revokes tenants' keys; a revoked
or expired key is refused at once by the API that revoked it. Replies conform to the document."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from longhaul.core.config import get_settings
from longhaul.core.models import ApiKey, utcnow
from tests.integration.api.test_openapi_conformance import Document

ADMIN = f"lh_admin_{uuid.uuid4().hex}"


@pytest.fixture
def api(database_url: str, redis_url: str) -> Iterator[TestClient]:
    from longhaul.api.app import create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LONGHAUL_ADMIN_API_KEY", ADMIN)
        get_settings.cache_clear()
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            yield client
    get_settings.cache_clear()


def test_admin_creates_lists_expires_and_revokes_keys(api: TestClient, session: Session) -> None:
    doc = Document(api.get("/openapi.json").json())
    admin = {"Authorization": f"Bearer {ADMIN}"}
    tenant = f"keys-{uuid.uuid4().hex[:8]}"
    made = doc.check(
        "post",
        "/v1/admin/keys",
        api.post("/v1/admin/keys", json={"tenant": tenant, "name": "ci"}, headers=admin),
    )
    key = made["key"]
    assert key.startswith("lh_sk_") and made["prefix"] == key[:12] and made["tenant"] == tenant
    user = {"Authorization": f"Bearer {key}"}
    assert api.get("/v1/jobs", headers=user).status_code == 200
    expiring = api.post(
        "/v1/admin/keys", json={"tenant": tenant, "expires_in_days": 30}, headers=admin
    ).json()
    assert expiring["expires_at"] is not None

    listed = doc.check(
        "get", "/v1/admin/keys", api.get(f"/v1/admin/keys?tenant={tenant}", headers=admin)
    )
    assert {k["id"] for k in listed["data"]} == {made["id"], expiring["id"]}
    assert all("key" not in k for k in listed["data"])  # the secret is shown once only

    # Revoked: refused at once by this API (its tenant cache is cleared).
    revoked = doc.check(
        "post",
        "/v1/admin/keys/{key_id}/revoke",
        api.post(f"/v1/admin/keys/{made['id']}/revoke", headers=admin),
    )
    assert revoked["revoked_at"] is not None
    assert api.get("/v1/jobs", headers=user).status_code == 401
    again = api.post(f"/v1/admin/keys/{key[:12]}/revoke", headers=admin).json()  # by prefix
    assert again["revoked_at"] == revoked["revoked_at"]

    # Expired: no longer listed as working, refused.
    session.execute(
        update(ApiKey)
        .where(ApiKey.id == expiring["id"])
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    assert api.get(f"/v1/admin/keys?tenant={tenant}", headers=admin).json()["data"] == []
    every = api.get(f"/v1/admin/keys?tenant={tenant}&include_revoked=true", headers=admin)
    assert len(every.json()["data"]) == 2
    other = {"Authorization": f"Bearer {expiring.get('key')}"}
    assert api.get("/v1/jobs", headers=other).status_code == 401


def test_keys_admin_needs_the_admin_key(api: TestClient) -> None:
    made = api.post(
        "/v1/admin/keys",
        json={"tenant": f"t-{uuid.uuid4().hex[:6]}"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    ).json()
    tenant = {"Authorization": f"Bearer {made['key']}"}
    for method, path in (
        ("GET", "/v1/admin/keys"),
        ("POST", "/v1/admin/keys"),
        ("POST", f"/v1/admin/keys/{made['id']}/revoke"),
    ):
        reply = api.request(method, path, headers=tenant, json={"tenant": "x"})
        assert reply.status_code == 401, (method, path, reply.text)
    missing = api.post(
        "/v1/admin/keys/key_nope/revoke", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert missing.status_code == 404
    bad = api.post(
        "/v1/admin/keys",
        json={"tenant": "x", "expires_in_days": -1},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "expires_in_days"

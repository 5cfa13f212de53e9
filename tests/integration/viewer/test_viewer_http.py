"""The viewer's HTTP rules without a browser: cookies, sessions, CSRF, admin read-only, files."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from longhaul.core.models import utcnow
from longhaul.core.models.webhooks import InboundWebhook
from tests.support.factories import add_job

pytestmark = pytest.mark.integration
ADMIN = "lh_admin_" + uuid.uuid4().hex


@pytest.fixture
def client(database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from longhaul.api.app import create_app
    from longhaul.core.config import get_settings

    monkeypatch.setenv("LONGHAUL_ADMIN_API_KEY", ADMIN)
    get_settings.cache_clear()
    try:
        yield TestClient(create_app())
    finally:
        get_settings.cache_clear()


@pytest.fixture
def key(session: Session) -> str:
    from longhaul.core.auth import create_api_key

    value = create_api_key(session, tenant_name=f"ui-{uuid.uuid4().hex[:8]}")
    session.commit()
    return value


def sign_in(client: Any, key: str, **headers: str) -> Any:
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    return client.post(
        "/ui/login",
        data={"csrf": csrf, "key": key, "next": "/ui/jobs"},
        headers=headers,
        follow_redirects=False,
    )


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_cookie_is_secure_behind_https(client: Any, key: str) -> None:
    plain = sign_in(client, key)
    assert plain.status_code == 303
    assert "secure" not in plain.headers["set-cookie"].lower()
    behind = sign_in(TestClient(client.app), key, **{"x-forwarded-proto": "https"})
    cookie = behind.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_login_form_needs_its_token_and_next_stays_on_the_viewer(client: Any, key: str) -> None:
    refused = client.post("/ui/login", data={"csrf": "x", "key": key}, follow_redirects=False)
    assert refused.status_code == 400
    form = client.get("/ui/login?next=https://evil.example/")
    assert 'value="/ui/jobs"' in form.text  # an outside "next" is dropped


def test_revoking_the_key_ends_its_sessions(client: Any, key: str, session: Session) -> None:
    from longhaul.core.keys import revoke_key

    sign_in(client, key)
    assert client.get("/ui/jobs", follow_redirects=False).status_code == 200
    revoke_key(session, key[:12])
    session.commit()
    assert client.get("/ui/jobs", follow_redirects=False).status_code == 303


def test_sign_out_needs_the_csrf_token(client: Any, key: str) -> None:
    sign_in(client, key)
    page = client.get("/ui/jobs")
    assert client.post("/ui/logout", data={}, follow_redirects=False).status_code == 400
    assert client.get("/ui/jobs", follow_redirects=False).status_code == 200
    out = client.post("/ui/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/ui/jobs", follow_redirects=False).status_code == 303


def test_admin_reads_every_tenant_but_changes_nothing(
    client: Any, session: Session, tenant: Any
) -> None:
    job = add_job(session, tenant.id, status="completed", output_text="done")
    sign_in(client, ADMIN)
    page = client.get(f"/ui/jobs/{job.id}")
    assert page.status_code == 200 and 'id="delete"' not in page.text
    refused = client.post(f"/ui/jobs/{job.id}/delete", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 400
    session.refresh(job)
    assert job.deleted_at is None


def test_timeline_shows_openai_webhooks(client: Any, key: str, session: Session) -> None:
    from longhaul.core.auth import tenant_for_key

    job = add_job(
        session,
        tenant_for_key(session, key).id,
        status="completed",
        state_history=[{"status": "completed", "at": utcnow().isoformat()}],
    )
    session.add(
        InboundWebhook(
            webhook_id=f"wh_{uuid.uuid4().hex}",
            type="response.completed",
            response_id="resp_up",
            job_id=job.id,
            received_at=utcnow(),
        )
    )
    session.commit()
    sign_in(client, key)
    page = client.get(f"/ui/jobs/{job.id}?tab=timeline")
    assert "OpenAI webhook response.completed" in page.text


def test_pages_carry_the_strict_headers(client: Any, key: str) -> None:
    sign_in(client, key)
    for path in ("/ui/jobs", "/ui/usage", "/ui/login", "/ui/jobs/resp_lh_missing"):
        response = client.get(path)
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    assert client.get("/ui/jobs/resp_lh_missing").status_code == 404
    assert client.get("/ui/static/..%2Fweb.py").status_code == 404
    assert client.get("/ui/static/app.js").headers["content-type"].startswith("text/javascript")


def test_an_expired_key_neither_signs_in_nor_keeps_its_session(
    client: Any, key: str, session: Session
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from longhaul.core.auth import hash_key
    from longhaul.core.models import ApiKey

    sign_in(client, key)
    assert client.get("/ui/jobs", follow_redirects=False).status_code == 200
    session.execute(
        update(ApiKey)
        .where(ApiKey.key_hash == hash_key(key))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    assert client.get("/ui/jobs", follow_redirects=False).status_code == 303
    assert sign_in(TestClient(client.app), key).status_code == 401

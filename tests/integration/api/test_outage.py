"""PostgreSQL or Redis down: every operation of the served document answers, never with a 500.
With PostgreSQL down, each answer that needs it is ``503`` with ``Retry-After`` in OpenAI's
shape, and the API logs one line for the outage, not a traceback per request. With Redis down,
work is kept in PostgreSQL (the sweep sends it later): no 500, only 503 (also where a proxied
upstream call fails, as none runs here)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key, tenant_for_key
from tests.integration.api.conftest import AppFactory
from tests.support.factories import add_job
from tests.support.infra import free_port

ADMIN = f"lh_admin_{uuid.uuid4().hex}"
BODIES: dict[str, Any] = {
    "/v1/responses": {"model": "gpt-4.1", "input": "hi", "background": True},
    "/v1/responses/input_tokens": {"model": "gpt-4.1", "input": "hi"},
    "/v1/webhook_endpoints": {"url": "https://example.com/hook"},
    "/v1/admin/upstreams": {
        "name": "x",
        "base_url": "https://api.example.com/v1",
        "auth_style": "bearer",
        "api_key": "sk-test",
    },
    "/v1/admin/upstreams/{name}": {"timeout_seconds": 5},
    "/v1/admin/keys": {"tenant": "outage"},
    "/v1/admin/tenants/{tenant}/upstream": {"upstream": None},
}


@pytest.fixture
def known(session: Session) -> dict[str, str]:
    """A tenant's key and one of its finished jobs, made while PostgreSQL is up."""
    key = create_api_key(session, tenant_name=f"outage-{uuid.uuid4().hex[:8]}")
    job = add_job(session, tenant_for_key(session, key).id, status="completed")
    session.commit()
    return {"key": key, "job": job.id}


@pytest.fixture
def app_with(app_factory: AppFactory) -> AppFactory:
    def make(**env: str) -> TestClient:
        fixed = {
            "LONGHAUL_ADMIN_API_KEY": ADMIN,
            "LONGHAUL_SECRET_KEYS": Fernet.generate_key().decode(),
        }
        return app_factory(**{**fixed, **env})

    return make


def _every_operation(
    client: TestClient, known: dict[str, str], admin_writes: bool = True
) -> list[tuple[str, str, Any]]:
    """Each operation once. ``admin_writes=False`` leaves out admin changes that would work
    (PostgreSQL up): a shared upstream or a secrets rotation would change other tests' world."""
    from longhaul.api.app import create_app

    doc = create_app().openapi()  # the served document (the client's app may not answer)
    json_type = {"Content-Type": "application/json"}
    tenant = {"Authorization": f"Bearer {known['key']}", **json_type}
    admin = {"Authorization": f"Bearer {ADMIN}", **json_type}
    replies = []
    for template, operations in doc["paths"].items():
        if template in ("/healthz", "/openapi.json"):
            continue
        path = re.sub(r"{(response_id|job_id)}", known["job"], template)
        path = re.sub(r"{\w+}", "x_1", path)
        headers = admin if template.startswith("/v1/admin") else tenant
        for method in operations:
            if not admin_writes and template.startswith("/v1/admin") and method != "get":
                continue
            body = BODIES.get(template) if method in ("post", "put") else None
            reply = client.request(
                method,
                path,
                headers=headers,
                content=json.dumps(body).encode() if body is not None else None,
            )
            replies.append((f"{method.upper()} {template}", reply.status_code, reply))
    return replies


def test_postgresql_down_every_operation_is_503_with_one_log_line(
    app_with: Any, known: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/longhaul"
    client = app_with(LONGHAUL_DATABASE_URL=dead)
    with caplog.at_level(logging.INFO):
        replies = _every_operation(client, known)
    wrong = [(op, status) for op, status, _ in replies if status >= 500 and status != 503]
    assert not wrong
    needs_db = [r for r in replies if r[0] not in ("POST /v1/webhooks/openai", "GET /readyz")]
    assert len(needs_db) >= 25
    for op, status, reply in needs_db:
        assert status == 503, f"{op}: {status} {reply.text[:200]}"
        assert reply.headers.get("retry-after"), op
        error = reply.json()["error"]
        assert error["type"] == "server_error" and error["code"] == "database_unavailable", op
    lines = [r for r in caplog.records if r.name.startswith("longhaul.api")]
    assert not [r for r in lines if r.exc_info], "a traceback was logged"
    outage = [r for r in lines if "unavailable" in r.getMessage()]
    assert len(outage) == 1, [r.getMessage() for r in outage]


def test_redis_down_no_operation_is_a_5xx_but_503(app_with: Any, known: dict[str, str]) -> None:
    client = app_with(  # with request limits on: they are skipped while Redis is down
        LONGHAUL_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        LONGHAUL_RATE_LIMIT_PER_SECOND="100",
        LONGHAUL_AUTH_FAILURES_PER_MINUTE="30",
    )
    replies = _every_operation(client, known, admin_writes=False)
    wrong = [(op, status, r.text[:100]) for op, status, r in replies if status >= 500]
    # 503 for what needs Redis, and where an upstream (none runs here) was needed.
    assert all(status == 503 for _, status, _ in wrong), wrong
    # (readiness is a probe's answer: Redis is down, so not ready, and no retry is asked)
    missing = [
        op
        for op, status, r in replies
        if status == 503 and not r.headers.get("retry-after") and op != "GET /readyz"
    ]
    assert not missing, missing
    assert dict((op, s) for op, s, _ in replies)["GET /readyz"] == 503
    # What needs only PostgreSQL still works: a create is stored and answered.
    assert dict((op, s) for op, s, _ in replies)["POST /v1/responses"] == 200

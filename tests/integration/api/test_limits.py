"""Request limits (api/limits.py), counted in the real Redis: per key, shared by two API apps;
failed authentication per client address; redeliveries per job. Each refusal is OpenAI's 429
with ``Retry-After`` and ``x-ratelimit-*`` headers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key, tenant_for_key
from tests.integration.api.conftest import AppFactory
from tests.support.factories import add_job

Make = Callable[..., TestClient]


@pytest.fixture
def make_api(redis_url: str, app_factory: AppFactory) -> Make:
    for key in redis.Redis.from_url(redis_url).scan_iter("longhaul:limits*"):
        redis.Redis.from_url(redis_url).delete(key)
    names = (
        "RATE_LIMIT_PER_SECOND",
        "AUTH_FAILURES_PER_MINUTE",
        "REDELIVER_PER_HOUR",
        "MAX_ACTIVE_JOBS",
    )

    def make(**limits: int) -> TestClient:  # each limit off unless given
        return app_factory(**{f"LONGHAUL_{n}": str(limits.get(n.lower(), 0)) for n in names})

    return make


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _assert_429(reply: Any) -> dict[str, Any]:
    assert reply.status_code == 429, reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert int(reply.headers["retry-after"]) >= 1
    return error  # type: ignore[no-any-return]


def test_requests_per_key_are_limited_across_api_processes(
    make_api: Make, session: Session
) -> None:
    one, two = make_api(rate_limit_per_second=3), make_api(rate_limit_per_second=3)
    busy = create_api_key(session, tenant_name=f"busy-{uuid.uuid4().hex[:6]}")
    calm = create_api_key(session, tenant_name=f"calm-{uuid.uuid4().hex[:6]}")
    session.commit()
    replies = [(one if i % 2 else two).get("/v1/jobs", headers=_auth(busy)) for i in range(30)]
    statuses = [r.status_code for r in replies]
    assert set(statuses) == {200, 429}
    # 3 per second shared by both apps: 30 requests in well under 10 s cannot all pass.
    assert statuses.count(200) < 30 and statuses.count(429) >= 10
    limited = next(r for r in replies if r.status_code == 429)
    _assert_429(limited)
    assert limited.headers["x-ratelimit-limit-requests"] == "3"
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"
    assert limited.headers["x-ratelimit-reset-requests"].endswith("s")
    assert one.get("/v1/jobs", headers=_auth(calm)).status_code == 200  # another key is free


def test_failed_authentication_is_throttled_per_address(make_api: Make, session: Session) -> None:
    api = make_api(auth_failures_per_minute=5)
    known = create_api_key(session, tenant_name=f"known-{uuid.uuid4().hex[:6]}")
    fresh = create_api_key(session, tenant_name=f"fresh-{uuid.uuid4().hex[:6]}")
    session.commit()
    assert api.get("/v1/jobs", headers=_auth(known)).status_code == 200  # now cached
    wrong = [api.get("/v1/jobs", headers=_auth(f"lh_sk_guess{i}")) for i in range(8)]
    assert [r.status_code for r in wrong[:5]] == [401] * 5
    for reply in wrong[5:]:
        _assert_429(reply)
    missing = api.get("/v1/jobs")  # no key at all counts too
    _assert_429(missing)
    # Unknown keys from this address wait; a key this process knows still works.
    _assert_429(api.get("/v1/jobs", headers=_auth(fresh)))
    assert api.get("/v1/jobs", headers=_auth(known)).status_code == 200
    _assert_429(api.get("/v1/admin/upstreams", headers=_auth("wrong-admin")))


def test_redeliveries_are_limited_per_job(make_api: Make, session: Session) -> None:
    api = make_api(redeliver_per_hour=2)
    key = create_api_key(session, tenant_name=f"redeliver-{uuid.uuid4().hex[:6]}")
    tenant = tenant_for_key(session, key)
    first, second = (add_job(session, tenant.id, status="completed") for _ in range(2))
    session.commit()
    path = "/v1/jobs/{}/deliveries/redeliver"
    # No event yet (409), but each attempt counts before anything is sent.
    assert [api.post(path.format(first.id), headers=_auth(key)).status_code for _ in "ab"] == [
        409,
        409,
    ]
    error = _assert_429(api.post(path.format(first.id), headers=_auth(key)))
    assert "redeliveries" in error["message"]
    assert api.post(path.format(second.id), headers=_auth(key)).status_code == 409  # own count


def test_active_jobs_per_tenant_are_limited(make_api: Make, session: Session) -> None:
    """Past LONGHAUL_MAX_ACTIVE_JOBS active jobs a create is a 429 (nothing stored); a replay of
    an accepted create still answers; once a job ends, there is room again; other tenants are
    not counted."""
    from sqlalchemy import func, select, update

    from longhaul.core.models import Job

    api = make_api(max_active_jobs=2)
    busy = create_api_key(session, tenant_name=f"busy-{uuid.uuid4().hex[:6]}")
    calm = create_api_key(session, tenant_name=f"calm-{uuid.uuid4().hex[:6]}")
    session.commit()
    body = {"model": "gpt-5.5", "input": "hi", "background": True}

    def create(key: str, idem: str | None = None) -> Any:
        headers = {**_auth(key), **({"Idempotency-Key": idem} if idem else {})}
        return api.post("/v1/responses", json=body, headers=headers)

    first, second = create(busy, "one"), create(busy)
    assert (first.status_code, second.status_code) == (200, 200)
    refused = create(busy)
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "too_many_active_jobs")
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-limit-jobs"] == "2"
    tenant_id = tenant_for_key(session, busy).id  # type: ignore[union-attr]
    count = select(func.count()).select_from(Job).where(Job.tenant_id == tenant_id)
    assert session.execute(count).scalar_one() == 2  # the refused create stored nothing
    assert create(busy, "one").json()["id"] == first.json()["id"]  # a replay still answers
    assert create(calm).status_code == 200  # another tenant has its own count
    session.execute(update(Job).where(Job.id == first.json()["id"]).values(status="completed"))
    session.commit()
    assert create(busy).status_code == 200  # one ended: room for one more
    assert create(busy).status_code == 429

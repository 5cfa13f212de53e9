"""Every bad request gets a clear OpenAI-shaped error with the right status — never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

OK = {"model": "gpt-5.5", "input": "hi", "background": True}


@pytest.fixture(scope="module")
def api(database_url: str, redis_url: str) -> Iterator[TestClient]:
    from longhaul.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def auth(database_url: str) -> dict[str, str]:
    from longhaul.core.auth import create_api_key
    from longhaul.core.db import session_scope

    with session_scope(database_url) as session:
        key = create_api_key(session, tenant_name=f"bad-{uuid.uuid4().hex[:8]}")
    return {"Authorization": f"Bearer {key}"}


def assert_error(response, status: int, param: str | None = None, code: str | None = None):  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    return error


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x", "background": True}, "model"),
        ({**OK, "model": 3}, "model"),
        ({"model": "m", "background": True}, "input"),
        ({**OK, "input": {"a": 1}}, "input"),
        ({**OK, "stream": "yes"}, "stream"),
        ({"model": "m", "input": "x", "store": False}, "store"),
        ({**OK, "metadata": "x"}, "metadata"),
        ({**OK, "tools": "web_search"}, "tools"),
        ({**OK, "webhook": {"url": "ftp//nope"}}, "webhook.url"),
        ({**OK, "previous_response_id": "resp_lh_doesnotexist"}, "previous_response_id"),
    ],
)
def test_invalid_bodies(api: TestClient, auth: dict[str, str], body: dict, param: str) -> None:
    error = assert_error(api.post("/v1/responses", json=body, headers=auth), 400, param)
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize("raw", [b"{not json", b"[1]", b"", b"\xff"])
def test_malformed_json(api: TestClient, auth: dict[str, str], raw: bytes) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    assert_error(api.post("/v1/responses", content=raw, headers=headers), 400)


def test_oversized_body_is_413(api: TestClient, auth: dict[str, str]) -> None:
    from longhaul.core.config import get_settings

    big = "x" * (get_settings().max_body_bytes + 1)
    error = assert_error(api.post("/v1/responses", json={**OK, "input": big}, headers=auth), 413)
    assert error["code"] == "body_too_large"


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer lh_sk_wrong"}, {"Authorization": "Basic abc"}]
)
def test_missing_or_invalid_key_is_401(api: TestClient, headers: dict[str, str]) -> None:
    error = assert_error(api.post("/v1/responses", json=OK, headers=headers), 401)
    assert error["type"] == "authentication_error"
    assert_error(api.get("/v1/jobs", headers=headers), 401)


def test_unknown_job_is_404(api: TestClient, auth: dict[str, str]) -> None:
    for method, path in [
        ("GET", "/v1/responses/resp_lh_nope"),
        ("POST", "/v1/responses/resp_lh_nope/cancel"),
        ("DELETE", "/v1/responses/resp_lh_nope"),
        ("GET", "/v1/responses/resp_lh_nope/input_items"),
        ("GET", "/v1/jobs/resp_lh_nope"),
    ]:
        assert_error(api.request(method, path, headers=auth), 404, code="not_found")


def test_bad_query_parameters(api: TestClient, auth: dict[str, str]) -> None:
    assert_error(api.get("/v1/jobs?limit=0", headers=auth), 400, param="limit")
    assert_error(api.get("/v1/jobs?limit=abc", headers=auth), 400, param="limit")
    assert_error(api.get("/v1/jobs?after=resp_lh_unknown", headers=auth), 400, param="after")
    assert_error(api.get("/v1/jobs?created_after=yesterday", headers=auth), 400)


def test_unknown_path_and_method(api: TestClient, auth: dict[str, str]) -> None:
    assert_error(api.get("/v1/nothing", headers=auth), 404)
    assert_error(api.put("/v1/responses", headers=auth), 405)


def test_idempotency_key_too_long(api: TestClient, auth: dict[str, str]) -> None:
    headers = {**auth, "Idempotency-Key": "k" * 300}
    assert_error(api.post("/v1/responses", json=OK, headers=headers), 400, "Idempotency-Key")


def test_openapi_is_served(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    assert "/v1/responses" in spec["paths"] and "/v1/jobs/{job_id}" in spec["paths"]

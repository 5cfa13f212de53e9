"""HTTP metrics keep their route-template labels when a static path's template is remembered
(``api/http_metrics.py``): only paths without parameters are kept, never ids or unknown paths."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from longhaul.api.http_metrics import _TemplatesKept
from longhaul.core.auth import create_api_key

BODY = {"model": "gpt-5.5", "input": "hi", "background": True}


@pytest.fixture
def api(database_url: str, redis_url: str) -> Iterator[TestClient]:
    from longhaul.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def _count(api: TestClient, handler: str, method: str, status: str) -> float:
    text = api.get("/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name != "http_requests":
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "http_requests_total" and (
                labels.get("handler"),
                labels.get("method"),
                labels.get("status"),
            ) == (handler, method, status):
                return float(sample.value)
    return 0.0


def _kept(api: TestClient) -> dict[str, Any]:
    node: Any = api.app.middleware_stack  # type: ignore[attr-defined]
    while node is not None and not isinstance(node, _TemplatesKept):
        node = getattr(node, "app", None)
    assert node is not None, "the metrics middleware is not in the stack"
    return node._static


def test_templates_stay_right_and_only_static_paths_are_kept(
    api: TestClient, session: Session
) -> None:
    auth = {"Authorization": f"Bearer {create_api_key(session, tenant_name=uuid.uuid4().hex)}"}
    session.commit()
    before = {
        "create": _count(api, "/v1/responses", "POST", "200"),
        "by_id": _count(api, "/v1/responses/{response_id}", "GET", "404"),
        "unknown": _count(api, "none", "GET", "404"),
    }
    for _ in range(3):  # the first resolves the template, the next two reuse it
        assert api.post("/v1/responses", json=BODY, headers=auth).status_code == 200
    for _ in range(2):
        missing = f"/v1/responses/resp_{uuid.uuid4().hex}"
        assert api.get(missing, headers=auth).status_code == 404
        assert api.get(f"/no/such/{uuid.uuid4().hex}", headers=auth).status_code == 404

    assert _count(api, "/v1/responses", "POST", "200") == before["create"] + 3
    assert _count(api, "/v1/responses/{response_id}", "GET", "404") == before["by_id"] + 2
    assert _count(api, "none", "GET", "404") == before["unknown"] + 2
    kept = _kept(api)
    assert "/v1/responses" in kept
    assert not [p for p in kept if "resp_" in p or p.startswith("/no/")]

"""The wire models hold: Longhaul-built Response objects conform to OpenAI's ``Response`` schema
at every status, upstream objects and input items pass through unchanged, and the served OpenAPI
document declares typed responses and the real error statuses."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key
from longhaul.core.models import Tenant, utcnow
from longhaul.simulator import SimulatorHandle, start_simulator
from tests.integration.webhooks.conftest import set_env
from tests.support.factories import add_job
from tests.support.openapi import SchemaValidator, openai_schemas

REQUEST = {
    "model": "gpt-5.5",
    "input": "hi",
    "background": True,
    "instructions": "Be brief.",
    "temperature": 1,
    "tools": [{"type": "web_search"}],
}
UPSTREAM_400 = {  # what upstream.classify keeps of a create the upstream refused
    "code": "invalid_value",
    "message": "Invalid value for 'reasoning.effort'.",
    "type": "invalid_request_error",
    "param": "reasoning.effort",
    "status": 400,
}
DEADLINE = {
    "code": "deadline_exceeded",
    "message": "The job's deadline passed before it could be submitted upstream.",
    "type": "timeout",
}


@pytest.fixture(scope="module")
def api(database_url: str, redis_url: str) -> Iterator[TestClient]:
    from longhaul.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator(queued_seconds=0.0, run_seconds=0.05) as handle:
        yield handle


@pytest.fixture
def headers(session: Session, tenant: Tenant) -> dict[str, str]:
    key = create_api_key(session, tenant_name=tenant.name)
    session.commit()
    return {"Authorization": f"Bearer {key}"}


def sim_call(sim: SimulatorHandle, method: str, path: str, body: Any = None) -> Any:
    """The simulator's raw JSON (no SDK in between)."""
    request = urllib.request.Request(
        sim.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer sk-test", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def finished_upstream(sim: SimulatorHandle, body: dict[str, Any]) -> dict[str, Any]:
    """A background response created on the simulator and read raw once it is completed."""
    created = sim_call(sim, "POST", "/responses", body)
    while True:  # the simulator finishes it after run_seconds
        raw = sim_call(sim, "GET", f"/responses/{created['id']}")
        if raw["status"] == "completed":
            return raw  # type: ignore[no-any-return]
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("status", "fields"),
    [
        ("queued", {}),
        ("submitting", {}),
        ("in_progress", {"upstream_response_id": "resp_up1", "upstream_status": "queued"}),
        ("cancelling", {"upstream_response_id": "resp_up2", "upstream_status": "in_progress"}),
        ("finalizing", {"upstream_response_id": "resp_up3", "upstream_status": "completed"}),
        ("cancelled", {}),  # cancelled before submit: no upstream object
        ("failed", {"error": UPSTREAM_400}),  # the upstream refused the create
        ("failed", {"error": DEADLINE}),  # Longhaul's own failure before submit
        ("incomplete", {}),
    ],
)
def test_longhaul_built_responses_conform_to_openai_schema(
    api: TestClient,
    session: Session,
    tenant: Tenant,
    headers: dict[str, str],
    status: str,
    fields: dict[str, Any],
) -> None:
    job = add_job(
        session,
        tenant.id,
        status=status,
        request_body=REQUEST,
        job_metadata={"team": "a"},
        finished_at=utcnow() if status in ("cancelled", "failed", "incomplete") else None,
        **fields,
    )
    body = api.get(f"/v1/responses/{job.id}", headers=headers).json()

    SchemaValidator(openai_schemas()).check("Response", body)
    expected = {"queued": "queued", "submitting": "queued"}.get(status, status)
    if status in ("cancelling", "finalizing"):
        expected = "in_progress"
    assert (body["id"], body["status"], body["object"]) == (job.id, expected, "response")
    assert body["text"] == {"format": {"type": "text"}}  # OpenAI's default, not null
    assert body["temperature"] == 1 and body["instructions"] == "Be brief."
    assert "usage" not in body  # the schema has no null usage
    assert body["longhaul"]["job_status"] == status
    if status == "failed":
        # The Response carries a code OpenAI's enum has; Longhaul's own record keeps the rest.
        code = "invalid_prompt" if fields["error"] is UPSTREAM_400 else "server_error"
        assert body["error"] == {"code": code, "message": fields["error"]["message"]}
        assert body["longhaul"]["error"] == fields["error"]
    else:
        assert body["error"] is None and body["longhaul"]["error"] is None


def test_final_upstream_object_passes_through_unchanged(
    api: TestClient, session: Session, tenant: Tenant, headers: dict[str, str], sim: SimulatorHandle
) -> None:
    upstream = finished_upstream(sim, {**REQUEST, "store": True})
    job = add_job(
        session,
        tenant.id,
        status="completed",
        request_body=REQUEST,
        upstream_response_id=upstream["id"],
        upstream_status="completed",
        response_body=upstream,
        finished_at=utcnow(),
    )
    body = api.get(f"/v1/responses/{job.id}", headers=headers).json()

    SchemaValidator(openai_schemas()).check("Response", body)
    longhaul = body.pop("longhaul")
    assert longhaul["upstream_response_id"] == upstream["id"]
    # Only Longhaul's id (and the job's metadata) replace the upstream's; nothing else changes.
    assert body == {**upstream, "id": job.id, "metadata": {}}


def test_input_items_pass_upstream_items_through_unchanged(
    api: TestClient,
    session: Session,
    tenant: Tenant,
    headers: dict[str, str],
    sim: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_env(monkeypatch, "LONGHAUL_OPENAI_BASE_URL", sim.url)
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
        {"type": "message", "role": "assistant", "content": "an earlier answer"},
        {"role": "user", "content": "second"},
    ]
    upstream = finished_upstream(sim, {**REQUEST, "input": items, "store": True})
    job = add_job(
        session,
        tenant.id,
        status="completed",
        request_body={**REQUEST, "input": items},
        upstream_response_id=upstream["id"],
        response_body=upstream,
    )
    path = f"/responses/{upstream['id']}/input_items?limit=2&order=asc"
    raw = sim_call(sim, "GET", path)

    page = api.get(f"/v1/responses/{job.id}/input_items?limit=2&order=asc", headers=headers)

    assert page.status_code == 200, page.text
    assert page.json() == raw  # byte-for-byte the upstream's page: no fields added as null
    assert len(raw["data"]) == 2 and raw["has_more"] is True
    rest = api.get(
        f"/v1/responses/{job.id}/input_items",
        params={"order": "asc", "after": raw["last_id"]},
        headers=headers,
    ).json()
    assert rest == sim_call(sim, "GET", f"{path.split('?')[0]}?order=asc&after={raw['last_id']}")


V1_READS_WITH_ID = {
    ("get", "/v1/responses/{response_id}"),
    ("post", "/v1/responses/{response_id}/cancel"),
    ("delete", "/v1/responses/{response_id}"),
    ("get", "/v1/responses/{response_id}/input_items"),
    ("get", "/v1/jobs/{job_id}"),
    ("get", "/v1/jobs/{job_id}/artifacts/{artifact_id}"),
    ("get", "/v1/jobs/{job_id}/deliveries"),
    ("post", "/v1/jobs/{job_id}/deliveries/redeliver"),
    ("delete", "/v1/webhook_endpoints/{endpoint_id}"),
}


def _schema_of(doc: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    schema = response["content"]["application/json"]["schema"]
    ref = schema.get("$ref", "")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema  # type: ignore[no-any-return]


def test_served_openapi_declares_typed_responses_and_real_errors(api: TestClient) -> None:
    doc = api.get("/openapi.json").json()
    operations = [
        (method, path, op)
        for path, ops in doc["paths"].items()
        if path.startswith("/v1/")
        for method, op in ops.items()
    ]
    assert len(operations) >= 17
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for method, path, op in operations:
        where = f"{method.upper()} {path}"
        responses = op["responses"]
        assert "422" not in responses, where
        ok = responses["200"]
        octets = path.endswith(("/artifacts/{artifact_id}", "/files/{file_id}/content"))
        if octets and not path.startswith("/v1/vector_stores/"):  # a store's file: JSON text
            assert "application/octet-stream" in ok["content"], where
        else:
            typed = _schema_of(doc, ok)
            assert typed.get("type") == "object" and typed.get("properties"), where
        for status in ("503", *(["400"] if method in ("post",) else [])):
            if path.endswith("/cancel") or path.endswith("/redeliver") or path.endswith("rotate"):
                continue  # no input to refuse
            assert responses[status]["content"]["application/json"]["schema"] == error_ref, (
                where,
                status,
            )
        if path != "/v1/webhooks/openai":
            assert responses["401"]["content"]["application/json"]["schema"] == error_ref, where
        if (method, path) in V1_READS_WITH_ID:
            assert "404" in responses, where
    assert not {"HTTPValidationError", "ValidationError"} & set(doc["components"]["schemas"])

    create = doc["paths"]["/v1/responses"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    props = _schema_of(doc, create["requestBody"])["properties"]
    assert body == {"$ref": "#/components/schemas/CreateResponseBody"}
    assert {"model", "input", "background", "webhook", "longhaul"} <= set(props)
    response = _schema_of(doc, create["responses"]["200"])
    assert {"id", "status", "output", "longhaul"} <= set(response["properties"])
    assert "status" in response["required"]
    # every schema the document references exists in it
    text = str(doc)
    for name in {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in doc["components"]["schemas"], name


def test_error_bodies_match_the_declared_schema(api: TestClient, headers: dict[str, str]) -> None:
    from longhaul.schemas.errors import ErrorResponse

    for reply, status in [
        (api.post("/v1/responses", json={"model": "m"}, headers=headers), 400),
        (api.get("/v1/jobs", params={"limit": 0}, headers=headers), 400),
        (api.get("/v1/jobs"), 401),
        (api.get("/v1/jobs/job_nope", headers=headers), 404),
    ]:
        assert reply.status_code == status, reply.text
        ErrorResponse.model_validate(reply.json())

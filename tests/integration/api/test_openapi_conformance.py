"""What the API sends is what its served OpenAPI document says: each reply below is validated
against the schema the document declares for its operation and status."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key
from longhaul.core.costs.ledger import write_ledger
from longhaul.core.models import Tenant, ToolCall, utcnow
from longhaul.core.models.artifacts import Artifact
from tests.support.factories import add_job

UPSTREAM = {  # a complete final object, as OpenAI (and the simulator) send one
    "id": "resp_up_conf",
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "tools": [{"type": "web_search"}],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "temperature": 1.0,
    "top_p": 1.0,
    "text": {"format": {"type": "text"}},
    "object": "response",
    "created_at": 1764400000,
    "status": "completed",
    "model": "gpt-4.1",
    "output": [
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {}},
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "done", "annotations": []}],
        },
    ],
    "usage": {
        "input_tokens": 1000,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 100,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 1100,
    },
    "metadata": {},
}


@pytest.fixture(scope="module")
def api(database_url: str, redis_url: str) -> Iterator[TestClient]:
    from longhaul.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


class Document:
    """The served document, and validation of a reply against what it declares."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        resource = Resource.from_contents(doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:longhaul", resource)

    def check(self, method: str, path: str, reply: Any, expect: int = 200) -> dict[str, Any]:
        assert reply.status_code == expect, reply.text
        status = str(reply.status_code)
        declared = self.doc["paths"][path][method]["responses"]
        assert status in declared, f"{method.upper()} {path} answered {status}: {reply.text}"
        pointer = "/".join(
            ["#/paths", path.replace("~", "~0").replace("/", "~1"), method, "responses", status]
        )
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"urn:longhaul{pointer}/content/application~1json/schema"},
            registry=self.registry,
        )
        body = reply.json()
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert not problems, f"{method.upper()} {path} {status}:\n" + "\n".join(problems[:10])
        return body  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def document(api: TestClient) -> Document:
    doc = api.get("/openapi.json").json()
    validate(doc)  # a valid OpenAPI 3.1 document
    return Document(doc)


def finished_job(session: Session, tenant: Tenant) -> str:
    """A completed job with a ledger, a tool call and an archived file."""
    job = add_job(
        session,
        tenant.id,
        commit=False,
        status="completed",
        model="gpt-4.1",
        upstream_response_id=UPSTREAM["id"],
        upstream_status="completed",
        response_body=UPSTREAM,
        output_text="done",
        usage=UPSTREAM["usage"],
        finished_at=utcnow(),
        job_metadata={"team": "a"},
    )
    session.add(
        ToolCall(
            job_id=job.id,
            output_index=0,
            item_id="ws_1",
            type="web_search_call",
            status="completed",
            data=UPSTREAM["output"][0],
        )
    )
    session.flush()
    write_ledger(session, job, UPSTREAM)
    session.add(
        Artifact(
            id=f"art_{uuid.uuid4().hex[:20]}",
            job_id=job.id,
            tenant_id=tenant.id,
            kind="file",
            source_key="file:conf",
            source={"file_id": "file_conf"},
            filename="out.txt",
            storage_key="k/conf",
            status="stored",
            size=4,
            content_type="text/plain",
        )
    )
    session.commit()
    return job.id


def test_replies_conform_to_the_served_document(
    api: TestClient, document: Document, session: Session, tenant: Tenant
) -> None:
    key = create_api_key(session, tenant_name=tenant.name)
    session.commit()
    h = {"Authorization": f"Bearer {key}"}
    done = finished_job(session, tenant)
    check = document.check

    created = check(
        "post",
        "/v1/responses",
        api.post(
            "/v1/responses", json={"model": "gpt-5.5", "input": "hi", "background": True}, headers=h
        ),
    )
    assert created["status"] == "queued"
    new = created["id"]
    check("get", "/v1/responses/{response_id}", api.get(f"/v1/responses/{new}", headers=h))
    done_view = check(
        "get", "/v1/responses/{response_id}", api.get(f"/v1/responses/{done}", headers=h)
    )
    assert done_view["longhaul"]["cost"]["total"] and done_view["longhaul"]["artifacts"]
    check(
        "get",
        "/v1/responses/{response_id}/input_items",
        api.get(f"/v1/responses/{new}/input_items", headers=h),
    )
    cancelled = check(
        "post",
        "/v1/responses/{response_id}/cancel",
        api.post(f"/v1/responses/{new}/cancel", headers=h),
    )
    assert cancelled["status"] == "cancelled"

    page = check("get", "/v1/jobs", api.get("/v1/jobs", params={"limit": 5}, headers=h))
    assert {j["id"] for j in page["data"]} == {new, done}
    detail = check("get", "/v1/jobs/{job_id}", api.get(f"/v1/jobs/{done}", headers=h))
    assert detail["tool_calls"][0]["type"] == "web_search_call" and detail["cost"]["lines"]
    check("get", "/v1/jobs/{job_id}/deliveries", api.get(f"/v1/jobs/{done}/deliveries", headers=h))
    check("get", "/v1/usage", api.get("/v1/usage", headers=h))
    check("get", "/v1/usage", api.get("/v1/usage", params={"group_by": ""}, headers=h))

    endpoint = check(
        "post",
        "/v1/webhook_endpoints",
        api.post("/v1/webhook_endpoints", json={"url": "https://example.com/h"}, headers=h),
    )
    check("get", "/v1/webhook_endpoints", api.get("/v1/webhook_endpoints", headers=h))
    check(
        "delete",
        "/v1/webhook_endpoints/{endpoint_id}",
        api.delete(f"/v1/webhook_endpoints/{endpoint['id']}", headers=h),
    )
    check("get", "/v1/webhook_secret", api.get("/v1/webhook_secret", headers=h))
    check("post", "/v1/webhook_secret/rotate", api.post("/v1/webhook_secret/rotate", headers=h))
    check("delete", "/v1/responses/{response_id}", api.delete(f"/v1/responses/{done}", headers=h))

    # errors: each status is one the operation declares, in the declared shape
    check("post", "/v1/responses", api.post("/v1/responses", json={"model": "m"}, headers=h), 400)
    check("get", "/v1/jobs", api.get("/v1/jobs", params={"limit": 0}, headers=h), 400)
    check("get", "/v1/jobs", api.get("/v1/jobs"), 401)
    check("get", "/v1/jobs/{job_id}", api.get("/v1/jobs/job_nope", headers=h), 404)
    check("get", "/v1/usage", api.get("/v1/usage", params={"group_by": "x"}, headers=h), 400)
    check(
        "post",
        "/v1/jobs/{job_id}/deliveries/redeliver",
        api.post(f"/v1/jobs/{new}/deliveries/redeliver", headers=h),  # not finished
        409,
    )


def test_admin_replies_conform_to_the_served_document(
    api: TestClient,
    document: Document,
    session: Session,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.integration.webhooks.conftest import set_env

    admin = f"lh_admin_{uuid.uuid4().hex}"
    set_env(monkeypatch, "LONGHAUL_ADMIN_API_KEY", admin)
    key = create_api_key(session, tenant_name=tenant.name)
    session.commit()
    check = document.check

    listed = check(
        "get",
        "/v1/admin/upstreams",
        api.get("/v1/admin/upstreams", headers={"Authorization": f"Bearer {admin}"}),
    )
    assert listed["object"] == "list"
    check(
        "get",
        "/v1/admin/upstreams",
        api.get("/v1/admin/upstreams", headers={"Authorization": f"Bearer {key}"}),
        401,
    )
    check(
        "get",
        "/v1/admin/upstreams/{name}",
        api.get("/v1/admin/upstreams/nope", headers={"Authorization": f"Bearer {admin}"}),
        404,
    )
    check(
        "put",
        "/v1/admin/tenants/{tenant}/upstream",
        api.put(
            f"/v1/admin/tenants/{tenant.name}/upstream",
            json={"upstream": None},
            headers={"Authorization": f"Bearer {admin}"},
        ),
    )

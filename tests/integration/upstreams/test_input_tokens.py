"""``POST /v1/responses/input_tokens`` through Longhaul: counted on the tenant's upstream after
the create body's ownership checks; a foreign id never reaches the upstream."""

from __future__ import annotations

from collections.abc import Callable

import openai
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.models import Tenant
from longhaul.simulator import SimulatorHandle
from tests.integration.upstreams.conftest import unique
from tests.support.factories import add_job

Tenants = Callable[[], tuple[str, dict[str, str]]]


def test_count_on_the_tenants_upstream_and_refuse_foreign_ids(
    api: TestClient,
    admin: dict[str, str],
    new_tenant: Tenants,
    sim: SimulatorHandle,
    session: Session,
) -> None:
    owner, auth = new_tenant()
    _, stranger = new_tenant()
    name = unique("tokens")
    body = {"name": name, "base_url": sim.url, "api_key": "sk-tokens", "tenant": owner}
    assert api.post("/v1/admin/upstreams", headers=admin, json=body).status_code == 200
    r = api.put(f"/v1/admin/tenants/{owner}/upstream", headers=admin, json={"upstream": name})
    assert r.status_code == 200

    before = sim.simulator.state.stats()["counters"].get("input_tokens_count", 0)
    short = api.post(
        "/v1/responses/input_tokens", headers=auth, json={"model": "gpt-5.5", "input": "hi"}
    )
    long = api.post(
        "/v1/responses/input_tokens",
        headers=auth,
        json={"model": "gpt-5.5", "input": "hi " * 400, "longhaul": {"upstream": name}},
    )
    assert short.status_code == long.status_code == 200, short.text
    assert short.json()["object"] == "response.input_tokens"
    assert 0 < short.json()["input_tokens"] < long.json()["input_tokens"]
    assert sim.simulator.state.stats()["counters"]["input_tokens_count"] == before + 2

    # another tenant's predecessor, as a Longhaul job id or as the upstream id: refused here
    owner_id = session.execute(select(Tenant.id).where(Tenant.name == owner)).scalar_one()
    job = add_job(session, owner_id, status="completed", upstream_response_id="resp_tokens_x")
    counters = dict(sim.simulator.state.stats()["counters"])
    for value in (job.id, "resp_tokens_x"):
        r = api.post(
            "/v1/responses/input_tokens",
            headers=stranger,
            json={"model": "gpt-5.5", "input": "x", "previous_response_id": value},
        )
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "previous_response_not_found"
    r = api.post(
        "/v1/responses/input_tokens",
        headers=stranger,
        json={"input": "x", "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]},
    )
    assert r.status_code == 404 and r.json()["error"]["param"] == "tools[0].vector_store_ids[0]"
    assert sim.simulator.state.stats()["counters"] == counters


def test_the_sdk_counts_through_the_simulator(sim: SimulatorHandle) -> None:
    client = openai.OpenAI(base_url=sim.url, api_key="sk-t", max_retries=0)
    counted = client.responses.input_tokens.count(model="gpt-5.5", input="hello there")
    assert counted.input_tokens > 0

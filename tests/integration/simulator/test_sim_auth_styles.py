"""The simulator authenticates like the real services: OpenAI's Bearer key on ``/v1``, Azure's
``api-key`` header on ``/openai/…`` (the dated form also needs ``?api-version=``), and a response
belongs to the key that created it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from longhaul.core.upstreams.spec import UpstreamSpec, make_client
from longhaul.simulator import SimulatorHandle, start_simulator

VERSION = "2025-04-01-preview"


def _client(sim: SimulatorHandle, **kw: Any) -> openai.OpenAI:
    return make_client(UpstreamSpec(key="t", name="t", **kw))


def test_azure_dated_form_with_api_key_header(sim: SimulatorHandle, admin: Any) -> None:
    azure = _client(
        sim,
        kind="azure",
        base_url=sim.root_url + "/openai",
        auth_style="api-key",
        api_key="az-key-1",
        query={"api-version": VERSION},
    )
    created = azure.responses.create(model="gpt-test", input="hi", background=True)
    assert azure.responses.retrieve(created.id).id == created.id
    auth = admin("GET", f"/_sim/responses/{created.id}")["auth"]
    assert auth["scheme"] == "api-key"
    assert auth["key"] == "az-key-1"
    assert auth["api_version"] == VERSION


def test_azure_dated_form_refuses_without_api_version(sim: SimulatorHandle) -> None:
    bare = _client(sim, base_url=sim.root_url + "/openai", auth_style="api-key", api_key="az-key-1")
    with pytest.raises(openai.NotFoundError) as err:
        bare.responses.create(model="gpt-test", input="hi", background=True)
    assert err.value.param == "api-version"
    assert sim.simulator.state.stats()["counters"].get("create", 0) == 0


def test_azure_refuses_without_a_key(sim: SimulatorHandle) -> None:
    nokey = _client(
        sim,
        base_url=sim.root_url + "/openai",
        auth_style="headers",
        headers={"x-other": "1"},
        query={"api-version": VERSION},
    )
    with pytest.raises(openai.AuthenticationError) as err:
        nokey.responses.create(model="gpt-test", input="hi", background=True)
    assert "Access denied" in err.value.message


def test_openai_form_ignores_an_api_key_header(sim: SimulatorHandle) -> None:
    """OpenAI wants Bearer: an ``api-key`` header alone is a 401, as upstream."""
    wrong = _client(sim, base_url=sim.url, auth_style="api-key", api_key="sk-1")
    with pytest.raises(openai.AuthenticationError):
        wrong.responses.create(model="gpt-test", input="hi", background=True)


def test_custom_headers_are_recorded(sim: SimulatorHandle, admin: Any) -> None:
    gateway = _client(
        sim,
        base_url=sim.url,
        auth_style="bearer",
        api_key="sk-gw",
        headers={"X-Gateway-Tenant": "acme"},
        organization="org-1",
        project="proj-1",
    )
    created = gateway.responses.create(model="gpt-test", input="hi", background=True)
    auth = admin("GET", f"/_sim/responses/{created.id}")["auth"]
    assert auth["scheme"] == "bearer" and auth["key"] == "sk-gw"
    assert auth["headers"]["x-gateway-tenant"] == "acme"
    assert auth["headers"]["openai-organization"] == "org-1"
    assert auth["headers"]["openai-project"] == "proj-1"


@pytest.fixture(scope="module")
def scoped() -> Iterator[SimulatorHandle]:
    with start_simulator(queued_seconds=0.05, run_seconds=0.15, key_scoped=True) as handle:
        yield handle


def test_a_response_is_seen_by_its_own_key_only(scoped: SimulatorHandle) -> None:
    a = _client(scoped, base_url=scoped.url, api_key="sk-a")
    b = _client(scoped, base_url=scoped.url, api_key="sk-b")
    created = a.responses.create(model="gpt-test", input="hi", background=True)
    with pytest.raises(openai.NotFoundError):
        b.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        b.responses.cancel(created.id)
    with pytest.raises(openai.BadRequestError) as err:
        b.responses.create(
            model="gpt-test", input="more", background=True, previous_response_id=created.id
        )
    assert err.value.code == "previous_response_not_found"
    assert a.responses.retrieve(created.id).id == created.id

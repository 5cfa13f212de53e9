"""Acceptance, end to end with the official SDK and only Longhaul's base URL, once on a Bearer
upstream and once on an Azure-style one (``api-key`` header, dated path with ``api-version``):
a tenant uploads files, builds a vector store and a container, runs a background job with file
search and code interpreter over them inside a conversation, continues the conversation with a
second job in the same container, and every call reached the upstream with its tenant's key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from cryptography.fernet import Fernet

from longhaul.simulator import SimulatorHandle, start_simulator
from tests.support.infra import own_database
from tests.support.stack import Stack, running_stack, wait_for

ADMIN = "lh-admin-e2e-objects"
DOC = (
    b"Lighthouse keepers logged the weather every four hours.\n"
    b"The Fresnel lens focused the lamp into a beam visible for twenty miles.\n"
)
VERSION = "2025-04-01-preview"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator(queued_seconds=0.2, run_seconds=0.6, key_scoped=True) as handle:
        yield handle


@pytest.fixture(scope="module")
def database(pg_server_url: str) -> Iterator[str]:
    """A database of its own: no job or upstream other modules left (the sweep takes due jobs
    in bounded batches, and the stack decrypts only its own upstreams' secrets)."""
    with own_database(pg_server_url) as url:
        yield url


@pytest.fixture(scope="module")
def stack(database: str, redis_url: str, sim: SimulatorHandle) -> Iterator[Stack]:
    env = {"LONGHAUL_ADMIN_API_KEY": ADMIN, "LONGHAUL_SECRET_KEYS": Fernet.generate_key().decode()}
    with running_stack(database, redis_url, sim.url, extra_env=env) as st:
        yield st


def _tenant_on(stack: Stack, database_url: str, upstream: dict[str, Any]) -> str:
    """A new tenant whose default upstream is ``upstream`` (its own key); returns its API key."""
    from longhaul.core.auth import create_api_key
    from longhaul.core.db import session_scope

    tenant = f"e2e-obj-{uuid.uuid4().hex[:8]}"
    with session_scope(database_url) as session:
        key = create_api_key(session, tenant_name=tenant)
    admin = httpx2.Client(
        base_url=f"{stack.api_url}/v1", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
    )
    r = admin.post("/admin/upstreams", json={**upstream, "tenant": tenant})
    assert r.status_code == 200, r.text
    r = admin.put(f"/admin/tenants/{tenant}/upstream", json={"upstream": upstream["name"]})
    assert r.status_code == 200, r.text
    return key


def _finished(client: openai.OpenAI, stack: Stack, job_id: str) -> Any:
    def done() -> Any:
        job = client.responses.retrieve(job_id)
        return job if job.status not in ("queued", "in_progress") else None

    try:
        return wait_for(done, 120, what=f"job {job_id}")
    except TimeoutError:
        job = client.responses.retrieve(job_id)
        raise AssertionError(f"{job_id} still {job.longhaul}\n{stack.logs()}") from None


@pytest.mark.parametrize("style", ["bearer", "azure"])
def test_files_store_container_and_conversation_jobs(
    style: str, stack: Stack, sim: SimulatorHandle, database: str
) -> None:
    name = f"{style}-{uuid.uuid4().hex[:6]}"
    secret = f"key-{name}"
    if style == "bearer":
        upstream = {"name": name, "base_url": sim.url, "api_key": secret}
    else:
        base = f"{sim.root_url}/openai?api-version={VERSION}"
        upstream = {"name": name, "kind": "azure", "base_url": base, "api_key": secret}
    key = _tenant_on(stack, database, upstream)
    client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=key, max_retries=0)

    doc = client.files.create(file=("lighthouse.txt", DOC), purpose="assistants")
    data = client.files.create(file=("beams.csv", b"year,miles\n1890,20\n"), purpose="user_data")
    store = client.vector_stores.create(name="research", file_ids=[doc.id])
    assert store.file_counts.completed == 1
    container = client.containers.create(name="analysis", file_ids=[data.id])
    conv = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "We study lighthouses."}]
    )
    tools: list[Any] = [
        {"type": "file_search", "vector_store_ids": [store.id]},
        {"type": "code_interpreter", "container": container.id},
    ]

    first = client.responses.create(
        model="gpt-5.5",
        input="What did the Fresnel lens do? Plot the beam range.",
        tools=tools,
        include=["file_search_call.results"],
        conversation=conv.id,
        background=True,
    )
    done = _finished(client, stack, first.id)
    assert done.status == "completed", done
    search = next(i for i in done.output if i.type == "file_search_call")
    assert [r.file_id for r in search.results] == [doc.id]
    code = next(i for i in done.output if i.type == "code_interpreter_call")
    assert code.container_id == container.id  # ran in the tenant's own container
    assert done.longhaul["artifacts"], done.longhaul  # its files were archived

    second = client.responses.create(
        model="gpt-5.5",
        input="And how far could ships see it?",
        tools=[{"type": "code_interpreter", "container": container.id}],
        conversation={"id": conv.id},
        background=True,
    )
    again = _finished(client, stack, second.id)
    assert again.status == "completed"
    assert again.usage.input_tokens > done.usage.input_tokens  # the conversation's earlier turns

    items = list(client.conversations.items.list(conv.id, order="asc"))
    asked = [i.content[0].text for i in items if i.type == "message" and i.role == "user"]
    assert asked == [
        "We study lighthouses.",
        "What did the Fresnel lens do? Plot the beam range.",
        "And how far could ships see it?",
    ]
    files = list(client.containers.files.list(container.id))
    assert sorted(f.source for f in files) == ["assistant", "assistant", "user"]

    for job in (done, again):  # each create reached the upstream with the tenant's key
        auth = sim.simulator.state.get(job.longhaul["upstream_response_id"]).auth
        assert auth["key"] == secret
        if style == "azure":
            assert (auth["scheme"], auth["api_version"]) == ("api-key", VERSION)
        else:
            assert (auth["scheme"], auth["api_version"]) == ("bearer", None)

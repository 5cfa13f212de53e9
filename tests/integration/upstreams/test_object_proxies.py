"""``/v1/vector_stores``, ``/v1/containers`` and ``/v1/conversations`` through Longhaul with the
official SDK over real HTTP, and the isolation matrix: two tenants on one shared upstream (one
key, so the upstream itself cannot tell them apart); every route naming one of A's objects, and
every create body naming one, answers B a 404 in OpenAI's shape and sends nothing upstream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import openai
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.models import Job, Tenant, Upstream
from longhaul.simulator import SimulatorHandle
from tests.integration.upstreams.conftest import unique
from tests.support.factories import add_job

Tenants = Callable[[], tuple[str, dict[str, str]]]
DOC = b"The Fresnel lens focused the lamp into a beam visible for twenty miles.\n"


def _shared_upstream(
    api: TestClient, admin: dict[str, str], sim: SimulatorHandle, *tenants: str
) -> str:
    """One shared upstream (one key) that every given tenant defaults to."""
    name = unique("shared")
    body = {"name": name, "base_url": sim.url, "api_key": f"sk-{name}"}
    assert api.post("/v1/admin/upstreams", headers=admin, json=body).status_code == 200
    for tenant in tenants:
        r = api.put(f"/v1/admin/tenants/{tenant}/upstream", headers=admin, json={"upstream": name})
        assert r.status_code == 200, r.text
    return name


def _sdk(live_api: str, auth: dict[str, str]) -> openai.OpenAI:
    key = auth["Authorization"].removeprefix("Bearer ")
    return openai.OpenAI(base_url=live_api, api_key=key, max_retries=0)


class World:
    """Tenant A's objects, made through Longhaul."""

    def __init__(self, a: openai.OpenAI) -> None:
        self.file = a.files.create(file=("lens.txt", DOC), purpose="assistants")
        self.other = a.files.create(file=("more.txt", b"lamp weather"), purpose="assistants")
        self.store = a.vector_stores.create(name="a", file_ids=[self.file.id])
        self.batch = a.vector_stores.file_batches.create(
            vector_store_id=self.store.id, file_ids=[self.other.id]
        )
        self.container = a.containers.create(name="a", file_ids=[self.file.id])
        self.cfile = a.containers.files.create(self.container.id, file=("n.txt", b"note"))
        self.conv = a.conversations.create(
            items=[{"type": "message", "role": "user", "content": "hello"}]
        )
        self.item = next(iter(a.conversations.items.list(self.conv.id)))


def _route_cases(w: World) -> dict[str, tuple[str, str, Any]]:
    """Every proxied route, naming A's object: (method, path, JSON body)."""
    vs, f, b = w.store.id, w.file.id, w.batch.id
    c, cf, cv, it = w.container.id, w.cfile.id, w.conv.id, w.item.id
    return {
        "files retrieve": ("GET", f"/files/{f}", None),
        "files content": ("GET", f"/files/{f}/content", None),
        "files delete": ("DELETE", f"/files/{f}", None),
        "vector_stores retrieve": ("GET", f"/vector_stores/{vs}", None),
        "vector_stores update": ("POST", f"/vector_stores/{vs}", {"name": "mine now"}),
        "vector_stores delete": ("DELETE", f"/vector_stores/{vs}", None),
        "vector_stores search": ("POST", f"/vector_stores/{vs}/search", {"query": "lens"}),
        "vector_stores files create": ("POST", f"/vector_stores/{vs}/files", {"file_id": f}),
        "vector_stores files list": ("GET", f"/vector_stores/{vs}/files", None),
        "vector_stores files retrieve": ("GET", f"/vector_stores/{vs}/files/{f}", None),
        "vector_stores files update": (
            "POST",
            f"/vector_stores/{vs}/files/{f}",
            {"attributes": {"x": 1}},
        ),
        "vector_stores files delete": ("DELETE", f"/vector_stores/{vs}/files/{f}", None),
        "vector_stores files content": ("GET", f"/vector_stores/{vs}/files/{f}/content", None),
        "file_batches create": ("POST", f"/vector_stores/{vs}/file_batches", {"file_ids": [f]}),
        "file_batches retrieve": ("GET", f"/vector_stores/{vs}/file_batches/{b}", None),
        "file_batches cancel": ("POST", f"/vector_stores/{vs}/file_batches/{b}/cancel", None),
        "file_batches files": ("GET", f"/vector_stores/{vs}/file_batches/{b}/files", None),
        "containers retrieve": ("GET", f"/containers/{c}", None),
        "containers delete": ("DELETE", f"/containers/{c}", None),
        "containers files create": ("POST", f"/containers/{c}/files", {"file_id": f}),
        "containers files list": ("GET", f"/containers/{c}/files", None),
        "containers files retrieve": ("GET", f"/containers/{c}/files/{cf}", None),
        "containers files delete": ("DELETE", f"/containers/{c}/files/{cf}", None),
        "containers files content": ("GET", f"/containers/{c}/files/{cf}/content", None),
        "conversations retrieve": ("GET", f"/conversations/{cv}", None),
        "conversations update": ("POST", f"/conversations/{cv}", {"metadata": {"x": "1"}}),
        "conversations delete": ("DELETE", f"/conversations/{cv}", None),
        "conversations items create": (
            "POST",
            f"/conversations/{cv}/items",
            {"items": [{"type": "message", "role": "user", "content": "hi"}]},
        ),
        "conversations items list": ("GET", f"/conversations/{cv}/items", None),
        "conversations items retrieve": ("GET", f"/conversations/{cv}/items/{it}", None),
        "conversations items delete": ("DELETE", f"/conversations/{cv}/items/{it}", None),
    }


def _job_of(session: Session, tenant: str, upstream: str, w: World) -> Job:
    """A finished job of A's on the shared upstream, in A's conversation and container."""
    tenant_id = session.execute(select(Tenant.id).where(Tenant.name == tenant)).scalar_one()
    upstream_id = session.execute(select(Upstream.id).where(Upstream.name == upstream)).scalar_one()
    resp = f"resp_{unique('a')}"
    body = {"id": resp, "status": "completed", "conversation": {"id": w.conv.id}, "output": []}
    return add_job(
        session,
        tenant_id,
        status="completed",
        upstream_id=upstream_id,
        upstream_response_id=resp,
        response_body=body,
    )


def _job_cases(job: Job) -> dict[str, tuple[str, str, Any]]:
    """A's job, by its Longhaul id on every response route and by either id in a create body."""
    ask = {"model": "gpt-5.5", "input": "hi", "background": True}
    out: dict[str, tuple[str, str, Any]] = {
        "responses retrieve": ("GET", f"/responses/{job.id}", None),
        "responses input_items": ("GET", f"/responses/{job.id}/input_items", None),
        "responses cancel": ("POST", f"/responses/{job.id}/cancel", None),
        "responses delete": ("DELETE", f"/responses/{job.id}", None),
        "jobs retrieve": ("GET", f"/jobs/{job.id}", None),
    }
    fields = {
        "previous_response_id (upstream id)": {"previous_response_id": job.upstream_response_id},
        "previous_response_id (job id)": {"previous_response_id": job.id},
        "conversation (job id)": {"conversation": job.id},
    }
    for name, extra in fields.items():
        out[f"responses create {name}"] = ("POST", "/responses", {**ask, **extra})
        out[f"input_tokens {name}"] = ("POST", "/responses/input_tokens", {**ask, **extra})
    return out


def _refused(case: str, r: httpx2.Response) -> bool:
    """A 404 in OpenAI's shape; for a predecessor, OpenAI's own 400 for an unknown one."""
    error = r.json().get("error") or {}
    if "previous_response_id" in case:
        return r.status_code == 400 and error.get("code") == "previous_response_not_found"
    return r.status_code == 404 and error.get("type") == "invalid_request_error"


def _body_cases(w: World, mine: dict[str, str]) -> dict[str, tuple[str, str, Any]]:
    """Creates of B's own that name one of A's objects in their body."""
    f = w.file.id
    user_file = [{"role": "user", "content": [{"type": "input_file", "file_id": f}]}]
    ask = {"model": "gpt-5.5", "input": "hi", "background": True}
    out: dict[str, tuple[str, str, Any]] = {
        "vector_stores create file_ids": ("POST", "/vector_stores", {"file_ids": [f]}),
        "own store: files create file_id": (
            "POST",
            f"/vector_stores/{mine['vs']}/files",
            {"file_id": f},
        ),
        "own store: file_batches file_ids": (
            "POST",
            f"/vector_stores/{mine['vs']}/file_batches",
            {"file_ids": [f]},
        ),
        "own store: file_batches files[].file_id": (
            "POST",
            f"/vector_stores/{mine['vs']}/file_batches",
            {"files": [{"file_id": f}]},
        ),
        "containers create file_ids": ("POST", "/containers", {"name": "b", "file_ids": [f]}),
        "own container: files create file_id": (
            "POST",
            f"/containers/{mine['cntr']}/files",
            {"file_id": f},
        ),
        "conversations create items file_id": (
            "POST",
            "/conversations",
            {"items": user_file},
        ),
        "own conversation: items create file_id": (
            "POST",
            f"/conversations/{mine['conv']}/items",
            {"items": user_file},
        ),
    }
    fields = {
        "conversation": {"conversation": w.conv.id},
        "conversation object": {"conversation": {"id": w.conv.id}},
        "code_interpreter container": {
            "tools": [{"type": "code_interpreter", "container": w.container.id}]
        },
        "code_interpreter file_ids": {
            "tools": [{"type": "code_interpreter", "container": {"type": "auto", "file_ids": [f]}}]
        },
        "file_search vector_store_ids": {
            "tools": [{"type": "file_search", "vector_store_ids": [w.store.id]}]
        },
        "input_file": {"input": user_file},
    }
    for name, extra in fields.items():
        out[f"responses create {name}"] = ("POST", "/responses", {**ask, **extra})
        out[f"input_tokens {name}"] = ("POST", "/responses/input_tokens", {**ask, **extra})
    return out


def test_isolation_matrix(
    live_api: str,
    api: TestClient,
    admin: dict[str, str],
    new_tenant: Tenants,
    sim: SimulatorHandle,
    session: Session,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name_a, auth_a = new_tenant()
    name_b, auth_b = new_tenant()
    shared = _shared_upstream(api, admin, sim, name_a, name_b)
    a, b = _sdk(live_api, auth_a), _sdk(live_api, auth_b)
    w = World(a)
    mine = {
        "vs": b.vector_stores.create(name="b").id,
        "cntr": b.containers.create(name="b").id,
        "conv": b.conversations.create().id,
    }
    job = _job_of(session, name_a, shared, w)
    cases = {**_route_cases(w), **_body_cases(w, mine), **_job_cases(job)}
    raw = httpx2.Client(base_url=live_api, headers=auth_b, timeout=30)

    before = sim.simulator.state.stats()["counters"]
    leaks = []
    for case, (method, path, body) in cases.items():
        r = raw.request(method, path, json=body)
        if not _refused(case, r):
            leaks.append((case, r.status_code, r.text[:200]))
    assert sim.simulator.state.stats()["counters"] == before  # nothing reached the upstream
    assert leaks == [], leaks
    assert len(cases) >= 60
    # B's lists hold B's objects only
    assert [s.id for s in b.vector_stores.list()] == [mine["vs"]]
    assert [c.id for c in b.containers.list()] == [mine["cntr"]]
    assert w.file.id not in [f.id for f in b.files.list()]
    with capsys.disabled():
        print(f"\nisolation matrix: {len(cases)} cases, {len(leaks)} leaks, 0 upstream requests")

    # A still has everything, untouched by B's attempts
    assert a.vector_stores.retrieve(w.store.id).file_counts.total == 2
    assert [s.id for s in a.vector_stores.list()] == [w.store.id]
    assert a.conversations.items.retrieve(w.item.id, conversation_id=w.conv.id).id == w.item.id


def test_the_sdk_round_trip_through_longhaul(
    live_api: str,
    api: TestClient,
    admin: dict[str, str],
    new_tenant: Tenants,
    sim: SimulatorHandle,
) -> None:
    name, auth = new_tenant()
    _shared_upstream(api, admin, sim, name)
    a = _sdk(live_api, auth)
    w = World(a)

    store = a.vector_stores.retrieve(w.store.id)
    assert store.file_counts.total == 2  # the record followed the batch (lists show it too)
    assert a.vector_stores.list().data[0].file_counts.total == 2
    hits = a.vector_stores.search(vector_store_id=store.id, query="Fresnel lens")
    assert [h.file_id for h in hits] == [w.file.id]
    assert {f.id for f in a.vector_stores.files.list(vector_store_id=store.id)} == {
        w.file.id,
        w.other.id,
    }
    assert a.vector_stores.files.content(file_id=w.file.id, vector_store_id=store.id).data
    a.vector_stores.files.delete(file_id=w.other.id, vector_store_id=store.id)
    assert a.vector_stores.list().data[0].file_counts.total == 1
    assert a.vector_stores.update(vector_store_id=store.id, name="renamed").name == "renamed"

    files = {f.path: f for f in a.containers.files.list(w.container.id)}
    assert set(files) == {"/mnt/data/lens.txt", "/mnt/data/n.txt"}
    body = a.containers.files.content.retrieve(w.cfile.id, container_id=w.container.id).read()
    assert body == b"note"
    large = bytes(range(256)) * (5 * 4096 + 1)  # > the 4 MiB JSON limit: streamed both ways
    put = a.containers.files.create(w.container.id, file=("large.bin", large))
    assert put.bytes == len(large)
    assert a.containers.files.content.retrieve(put.id, container_id=w.container.id).read() == large
    copied = a.containers.files.create(w.container.id, file_id=w.other.id)
    assert copied.path == "/mnt/data/more.txt"
    assert [c.id for c in a.containers.list()] == [w.container.id]

    added = a.conversations.items.create(
        w.conv.id, items=[{"type": "message", "role": "user", "content": "again"}]
    )
    items = list(a.conversations.items.list(w.conv.id, order="asc"))
    assert [i.id for i in items] == [w.item.id, added.data[0].id]
    assert a.conversations.update(w.conv.id, metadata={"k": "v"}).metadata == {"k": "v"}

    ask: dict[str, Any] = {"model": "gpt-5.5", "input": "lens?", "background": True}
    job = a.responses.create(
        **ask,
        tools=[
            {"type": "file_search", "vector_store_ids": [store.id]},
            {"type": "code_interpreter", "container": w.container.id},
        ],
        conversation=w.conv.id,
    )
    assert job.status == "queued"  # accepted: every id is the tenant's

    assert a.conversations.delete(w.conv.id).deleted is True
    a.containers.delete(w.container.id)  # the SDK returns nothing here
    assert a.vector_stores.delete(store.id).deleted is True
    assert list(a.vector_stores.list()) == [] and list(a.containers.list()) == []
    with pytest.raises(openai.NotFoundError):
        a.conversations.retrieve(w.conv.id)


def test_json_bodies_keep_the_json_limit(
    live_api: str, api: TestClient, admin: dict[str, str], new_tenant: Tenants,
    sim: SimulatorHandle,
) -> None:  # fmt: skip
    name, auth = new_tenant()
    _shared_upstream(api, admin, sim, name)
    big = {"name": "x", "metadata": {"k": "v" * (5 * 1024 * 1024)}}
    r = httpx2.post(f"{live_api}/containers", headers=auth, json=big, timeout=30)
    assert r.status_code == 413 and "error" in r.json()
    bad = httpx2.post(
        f"{live_api}/conversations",
        headers={**auth, "content-type": "application/json"},
        content=b"[1, 2",
    )
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


def test_an_unreachable_upstream_is_a_503_to_retry(
    api: TestClient, admin: dict[str, str], new_tenant: Tenants
) -> None:
    from tests.support.infra import free_port

    tenant, auth = new_tenant()
    name = unique("down")
    body = {"name": name, "base_url": f"http://127.0.0.1:{free_port()}/v1", "api_key": "sk-x"}
    assert api.post("/v1/admin/upstreams", headers=admin, json=body).status_code == 200
    r = api.put(f"/v1/admin/tenants/{tenant}/upstream", headers=admin, json={"upstream": name})
    assert r.status_code == 200
    for path in ("/v1/vector_stores", "/v1/conversations"):
        r = api.post(path, headers=auth, json={})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "upstream_unreachable"
        assert r.headers["Retry-After"] == "1"


def test_a_job_runs_where_the_objects_it_names_live(
    live_api: str,
    api: TestClient,
    admin: dict[str, str],
    new_tenant: Tenants,
    sim: SimulatorHandle,
    session: Session,
) -> None:
    """Before model-pattern routes: a conversation exists on one upstream only."""
    tenant, auth = new_tenant()
    home = _shared_upstream(api, admin, sim, tenant)
    model = f"pin-{unique('m')}"
    routed = {"name": unique("patterns"), "base_url": sim.url, "api_key": "sk-p"}
    routed["model_patterns"] = [f"{model}*"]
    assert api.post("/v1/admin/upstreams", headers=admin, json=routed).status_code == 200
    conv = _sdk(live_api, auth).conversations.create()

    def upstream_of(extra: dict[str, Any]) -> str | None:
        r = api.post(
            "/v1/responses",
            headers=auth,
            json={"model": model, "input": "hi", "background": True, **extra},
        )
        assert r.status_code == 200, r.text
        return session.get(Job, r.json()["id"]).upstream_id  # type: ignore[union-attr]

    ids = dict(session.execute(select(Upstream.name, Upstream.id)).all())
    assert upstream_of({}) == ids[routed["name"]]  # the model's route
    assert upstream_of({"conversation": conv.id}) == ids[home]  # where the conversation lives

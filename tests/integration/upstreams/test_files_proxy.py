"""``/v1/files`` through Longhaul with the OpenAI SDK over real HTTP: upload (streamed to the
tenant's upstream), retrieve, content, list, delete; another tenant sees none of it and its
attempts never reach the upstream; an uploaded file id is the tenant's in a create body."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import openai
import pytest
from fastapi.testclient import TestClient

from longhaul.simulator import SimulatorHandle
from tests.integration.upstreams.conftest import unique

Tenants = Callable[[], tuple[str, dict[str, str]]]


def _tenant_on_own_key(
    api: TestClient, admin: dict[str, str], new_tenant: Tenants, sim: SimulatorHandle
) -> tuple[str, str]:
    name, auth = new_tenant()
    upstream = unique("files")
    body = {"name": upstream, "base_url": sim.url, "api_key": f"sk-{upstream}", "tenant": name}
    assert api.post("/v1/admin/upstreams", headers=admin, json=body).status_code == 200
    r = api.put(f"/v1/admin/tenants/{name}/upstream", headers=admin, json={"upstream": upstream})
    assert r.status_code == 200
    return name, auth["Authorization"].removeprefix("Bearer ")


def test_files_round_trip_and_isolation(
    live_api: str,
    api: TestClient,
    admin: dict[str, str],
    new_tenant: Tenants,
    sim: SimulatorHandle,
) -> None:
    _, owner_key = _tenant_on_own_key(api, admin, new_tenant, sim)
    _, stranger_auth = new_tenant()  # on the shared (environment's) upstream
    stranger_key = stranger_auth["Authorization"].removeprefix("Bearer ")
    owner = openai.OpenAI(base_url=live_api, api_key=owner_key, max_retries=0)
    stranger = openai.OpenAI(base_url=live_api, api_key=stranger_key, max_retries=0)

    data = hashlib.shake_256(b"longhaul").digest(6 * 1024 * 1024 + 3)  # > the 4 MiB JSON limit
    uploaded = owner.files.create(file=("notes.bin", data), purpose="user_data")
    assert uploaded.bytes == len(data) and uploaded.filename == "notes.bin"
    assert uploaded.purpose == "user_data"
    assert owner.files.retrieve(uploaded.id).id == uploaded.id
    content = owner.files.content(uploaded.id).read()
    assert hashlib.sha256(content).digest() == hashlib.sha256(data).digest()
    assert [f.id for f in owner.files.list()] == [uploaded.id]

    before = dict(sim.simulator.state.stats()["counters"])
    assert list(stranger.files.list()) == []
    for call in (
        lambda: stranger.files.retrieve(uploaded.id),
        lambda: stranger.files.content(uploaded.id),
        lambda: stranger.files.delete(uploaded.id),
    ):
        with pytest.raises(openai.NotFoundError) as err:
            call()
        assert err.value.param == "id"
    ask = {
        "model": "gpt-5.5",
        "background": True,
        "input": [{"role": "user", "content": [{"type": "input_file", "file_id": uploaded.id}]}],
    }
    with pytest.raises(openai.NotFoundError):
        stranger.responses.create(**ask)  # type: ignore[call-overload]
    assert sim.simulator.state.stats()["counters"] == before  # nothing reached the upstream

    job = owner.responses.create(**ask)  # type: ignore[call-overload]
    assert job.status == "queued"

    assert owner.files.delete(uploaded.id).deleted is True
    assert list(owner.files.list()) == []
    with pytest.raises(openai.NotFoundError):
        owner.files.retrieve(uploaded.id)


def test_uploads_have_their_own_size_limit(
    api: TestClient, new_tenant: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    from longhaul.api.app import create_app
    from longhaul.core.config import get_settings

    monkeypatch.setenv("LONGHAUL_UPLOAD_MAX_BYTES", "1000")
    get_settings.cache_clear()
    _, auth = new_tenant()
    with TestClient(create_app(), raise_server_exceptions=False) as small:
        r = small.post(
            "/v1/files",
            headers=auth,
            files={"file": ("big.bin", b"x" * 2000)},
            data={"purpose": "user_data"},
        )
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

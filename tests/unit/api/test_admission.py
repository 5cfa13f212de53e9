"""Under overload the API answers 503 + Retry-After (OpenAI's error shape) instead of stalling;
a key's tenant is cached briefly and a revocation wins within the TTL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from longhaul.api import errors
from longhaul.api.db import in_thread, overloaded
from longhaul.core.auth import TenantCache
from longhaul.core.config import get_settings
from longhaul.core.errors import Transient
from longhaul.core.models import Tenant


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("LONGHAUL_API_QUEUE_SECONDS", "0.2")
    monkeypatch.setenv("LONGHAUL_API_QUEUE_LIMIT", "2")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_a_request_that_waits_too_long_for_a_thread_is_shed(settings: Any) -> None:
    release = threading.Event()
    outcomes: list[str] = []

    async def scenario() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1

        async def request(name: str, work: Any) -> None:
            try:
                outcomes.append(f"{name}: {await in_thread(work)}")
            except Transient as exc:
                assert exc.retry_after is not None and exc.code == "server_overloaded"
                outcomes.append(f"{name}: shed")

        async with anyio.create_task_group() as tg:
            tg.start_soon(request, "busy", lambda: release.wait(10) and "done")
            await anyio.sleep(0.05)
            tg.start_soon(request, "waits", lambda: "ran")  # waits 0.2 s for the one thread
            await anyio.sleep(0.5)
            release.set()
        # once the thread is free again, requests run
        await request("later", lambda: "ran")

    anyio.run(scenario)
    assert outcomes == ["waits: shed", "busy: done", "later: ran"]


def test_a_full_line_is_shed_at_once(settings: Any) -> None:
    release = threading.Event()
    outcomes: list[str] = []

    async def scenario() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1

        async def request(name: str) -> None:
            try:
                await in_thread(lambda: release.wait(10))
                outcomes.append(f"{name}: ran")
            except Transient:
                outcomes.append(f"{name}: shed")

        async with anyio.create_task_group() as tg:
            tg.start_soon(request, "running")
            await anyio.sleep(0.02)
            for name in ("queued-1", "queued-2", "third-in-line"):
                tg.start_soon(request, name)
                await anyio.sleep(0.02)
            release.set()

    anyio.run(scenario)
    assert outcomes[0] == "third-in-line: shed"  # the line holds LONGHAUL_API_QUEUE_LIMIT = 2
    assert sorted(outcomes[1:]) == ["queued-1: ran", "queued-2: ran", "running: ran"]


def test_overload_is_a_503_with_retry_after_in_openai_shape() -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/busy")
    def busy() -> None:
        raise overloaded()

    r = TestClient(app).get("/busy")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.json() == {
        "error": {
            "message": "The server is overloaded; retry after a short wait.",
            "type": "server_error",
            "param": None,
            "code": "server_overloaded",
        }
    }


def test_tenant_cache_expires_so_a_revocation_takes_effect() -> None:
    now = [0.0]
    cache = TenantCache(5.0, clock=lambda: now[0])
    tenant = Tenant(id="ten_1", name="a")
    assert cache.get("h") is None
    cache.put("h", tenant)
    now[0] = 4.9
    assert cache.get("h") is tenant
    now[0] = 5.1  # past the TTL: the next request looks the key up again (and may be refused)
    assert cache.get("h") is None

    off = TenantCache(0)
    off.put("h", tenant)
    assert off.get("h") is None

"""Fixtures: secret keys and the admin key set, a key-scoped simulator (a response is seen only
by the key that created it, as across OpenAI projects), the API, helpers to run a job's steps."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key
from longhaul.core.config import Settings, get_settings
from longhaul.simulator import SimulatorHandle, start_simulator
from tests.support.infra import free_port, wait_for_port

ADMIN = "lh-admin-upstreams-test"
KEY_1 = Fernet.generate_key().decode()


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Iterator[Settings]:
    os.environ["LONGHAUL_ADMIN_API_KEY"] = ADMIN
    os.environ["LONGHAUL_SECRET_KEYS"] = KEY_1
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        os.environ.pop("LONGHAUL_ADMIN_API_KEY", None)
        os.environ.pop("LONGHAUL_SECRET_KEYS", None)
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator(queued_seconds=0.05, run_seconds=0.1, key_scoped=True) as handle:
        yield handle


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    from longhaul.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def live_api(settings: Settings) -> Iterator[str]:
    """The API on a real port (the SDK speaks HTTP to it), in this process."""
    from longhaul.api.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port("127.0.0.1", port)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def new_tenant(session: Session) -> Callable[[], tuple[str, dict[str, str]]]:
    """A new tenant's name and its key's auth header."""

    def make() -> tuple[str, dict[str, str]]:
        name = f"ups-{uuid.uuid4().hex[:8]}"
        key = create_api_key(session, tenant_name=name)
        session.commit()
        return name, {"Authorization": f"Bearer {key}"}

    return make


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def sim_record(sim: SimulatorHandle, response_id: str) -> dict[str, Any]:
    reply = sim.simulator.admin_response(response_id, query={}, body=b"")
    assert reply.status == 200, reply.body
    return reply.body  # type: ignore[no-any-return]


def wait_sim_terminal(sim: SimulatorHandle, response_id: str) -> None:
    """Until the simulator has finished the response (its own clock; no assertion on time)."""
    for _ in range(500):
        if sim_record(sim, response_id)["finished_at"] is not None:
            return
        time.sleep(0.02)
    raise AssertionError(f"simulator never finished {response_id}")

"""The whole stack in processes, shared by a test module: simulator, API, worker, beat."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from longhaul.simulator import start_simulator
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def simulator() -> Iterator[object]:
    with start_simulator(queued_seconds=0.2, run_seconds=1.0) as sim:
        yield sim


@pytest.fixture(scope="module")
def stack(database_url: str, redis_url: str, simulator: Any) -> Iterator[Stack]:
    with running_stack(database_url, redis_url, simulator.url) as st:
        yield st


@pytest.fixture(scope="module")
def api_key(database_url: str) -> str:
    from longhaul.core.auth import create_api_key
    from longhaul.core.db import session_scope

    with session_scope(database_url) as session:
        return create_api_key(session, tenant_name=f"e2e-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def client(stack: Stack, api_key: str) -> openai.OpenAI:
    """The official SDK pointed at Longhaul's intake."""
    return openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=api_key, max_retries=0)

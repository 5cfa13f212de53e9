"""The whole stack in processes, shared by a test module: simulator, API, worker, beat."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import redis

from longhaul.simulator import start_simulator
from tests.support.stack import Stack, base_env


@pytest.fixture(scope="module")
def simulator() -> Iterator[object]:
    with start_simulator(queued_seconds=0.2, run_seconds=1.0) as sim:
        yield sim


@pytest.fixture(scope="module")
def stack(database_url: str, redis_url: str, simulator: object) -> Iterator[Stack]:
    # A clean broker: no stale messages or beat lock from an earlier run of the test suite.
    redis.Redis.from_url(redis_url).flushdb()
    with tempfile.TemporaryDirectory(prefix="longhaul-e2e-") as tmp:
        st = Stack(env=base_env(database_url, redis_url, simulator.url), workdir=Path(tmp))  # type: ignore[attr-defined]
        try:
            st.start_api()
            st.start_worker()
            st.start("beat", "beat")
            yield st
        except BaseException:
            print(st.logs())
            raise
        finally:
            st.stop_all()


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

"""Fixtures for the simulator tests: a running simulator, an SDK client, schema validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from longhaul.simulator import SimulatorHandle, start_simulator
from tests.support.openapi import SchemaValidator, openai_schemas


@pytest.fixture(scope="session")
def openapi_doc() -> dict[str, Any]:
    return openai_schemas()


@pytest.fixture(scope="session")
def schemas(openapi_doc: dict[str, Any]) -> SchemaValidator:
    return SchemaValidator(openapi_doc)


@pytest.fixture(scope="session")
def _shared_sim() -> Iterator[SimulatorHandle]:
    with start_simulator(queued_seconds=0.05, run_seconds=0.15) as handle:
        yield handle


@pytest.fixture(scope="session")
def _shared_client(_shared_sim: SimulatorHandle) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=_shared_sim.url, api_key="sk-test", max_retries=0) as client:
        yield client


@pytest.fixture
def sim(_shared_sim: SimulatorHandle) -> SimulatorHandle:
    """One simulator for the session, reset (state, counters, schedule) before each test."""
    _shared_sim.simulator.admin_reset(query={}, body=b"")
    return _shared_sim


@pytest.fixture
def client(sim: SimulatorHandle, _shared_client: openai.OpenAI) -> openai.OpenAI:
    return _shared_client


TERMINAL = {"completed", "failed", "cancelled", "incomplete"}


def _wait_terminal(client: openai.OpenAI, response_id: str, timeout: float = 5.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        response = client.responses.retrieve(response_id)
        if response.status in TERMINAL or time.monotonic() > deadline:
            return response
        time.sleep(0.03)


@pytest.fixture
def wait_terminal(client: openai.OpenAI) -> Any:
    """``wait_terminal(id)`` polls until the response is terminal and returns it."""
    return lambda response_id, timeout=5.0: _wait_terminal(client, response_id, timeout)


@pytest.fixture
def admin(sim: SimulatorHandle) -> Any:
    """``admin(method, path)`` calls a ``/_sim`` endpoint and returns the decoded JSON."""
    import urllib.request

    def call(method: str, path: str) -> Any:
        request = urllib.request.Request(
            sim.root_url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=5) as reply:
            return json.loads(reply.read())

    return call

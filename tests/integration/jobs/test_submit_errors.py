"""A failed create, against real sockets and the simulator: only a create that may have reached the
upstream flags the job ``possibly_duplicated``; the attempt's error is kept in the history and
leaves the job once a later attempt succeeds."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest
from sqlalchemy.orm import Session

from longhaul.core.config import get_settings
from longhaul.core.jobs.submit import submit_job
from longhaul.core.models import Job, utcnow
from longhaul.simulator import start_simulator
from tests.support.factories import add_job


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    with start_simulator(queued_seconds=5, run_seconds=5) as sim:
        yield sim


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused before any byte is written."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sdk(base_url: str, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="sk-x", max_retries=0, timeout=timeout)


def queued_job(session: Session, tenant: Any, scenario: str = "") -> Job:
    body = {"model": "gpt-5.5", "input": "x", "metadata": {"longhaul_sim": scenario}}
    return add_job(session, tenant.id, request_body=body, next_poll_at=utcnow())


def creates(simulator: Any) -> int:
    stats = httpx.get(simulator.url.removesuffix("/v1") + "/_sim/stats").json()
    return int(stats["counters"].get("create", 0))


def submit(session: Session, job: Job, client: openai.OpenAI) -> Job:
    submit_job(session, job.id, client=client, settings=get_settings())
    session.refresh(job)
    return job


def test_a_refused_connection_is_not_flagged_and_its_error_leaves_on_success(
    session: Session, tenant: Any, simulator: Any, closed_port: int
) -> None:
    job = submit(session, queued_job(session, tenant), sdk(f"http://127.0.0.1:{closed_port}/v1"))
    assert job.status == "queued"
    assert job.possibly_duplicated is False
    last = job.state_history[-1]
    assert (last["status"], last["reason"]) == ("queued", "connection_error")
    assert last["error"]["code"] == "connection_error"
    assert job.error is not None and job.error["code"] == "connection_error"

    job = submit(session, job, sdk(simulator.url))
    assert job.status == "in_progress" and job.upstream_response_id
    assert job.possibly_duplicated is False
    assert job.error is None
    assert [h.get("reason") for h in job.state_history].count("connection_error") == 1


def test_a_read_timeout_after_sending_is_flagged(
    session: Session, tenant: Any, simulator: Any
) -> None:
    before = creates(simulator)
    job = queued_job(session, tenant, "createhang:1")
    job = submit(session, job, sdk(simulator.url, timeout=0.5))
    assert job.status == "queued"
    assert job.possibly_duplicated is True
    assert job.state_history[-1]["reason"] == "timeout"

    job = submit(session, job, sdk(simulator.url))
    assert job.status == "in_progress" and job.error is None
    assert job.possibly_duplicated is True
    assert creates(simulator) - before == 2  # the flag was right: two upstream responses


def test_an_error_answer_is_not_flagged_and_a_null_code_is_not_recorded_as_none(
    session: Session, tenant: Any, simulator: Any
) -> None:
    job = submit(session, queued_job(session, tenant, "create500:1"), sdk(simulator.url))
    assert job.status == "queued" and job.possibly_duplicated is False
    last = job.state_history[-1]
    assert last["reason"] == "server_error"  # the simulated 500 carries a type but no code
    assert last["error"]["status"] == 500 and last["error"]["code"] is None
    assert "None" not in [h.get("reason") for h in job.state_history]

"""Finalize with files that cannot be fetched yet: the job waits and tries again (bounded),
then completes — with the files, or with them marked failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.config import Settings, get_settings
from longhaul.core.jobs.finalize import finalize_job
from longhaul.core.models import Job, utcnow
from longhaul.core.models.artifacts import Artifact
from longhaul.simulator import start_simulator
from tests.integration.artifacts.conftest import run_response
from tests.integration.artifacts.flaky import flaky_proxy
from tests.support.factories import add_job

CI = {"type": "code_interpreter", "container": {"type": "auto"}}


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    with start_simulator(queued_seconds=0.01, run_seconds=0.05) as sim:
        yield sim


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LONGHAUL_STORAGE_URL", f"file://{tmp_path / 'artifacts'}")
    monkeypatch.setenv("LONGHAUL_RETRY_BASE_SECONDS", "0.1")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def finalizing_job(session: Session, tenant: Any, response: dict[str, Any]) -> Job:
    return add_job(
        session,
        tenant.id,
        status="finalizing",
        upstream_status="completed",
        request_body={},
        response_body=response,
        next_poll_at=utcnow(),
    )


def artifact_rows(session: Session, job: Job) -> list[Artifact]:
    session.expire_all()
    return list(session.execute(select(Artifact).where(Artifact.job_id == job.id)).scalars())


def test_outage_during_finalize_is_retried_in_later_rounds(
    session: Session, tenant: Any, simulator: Any, settings: Settings
) -> None:
    upstream = openai.OpenAI(base_url=simulator.url, api_key="sk-x", max_retries=0)
    response = run_response(upstream, model="gpt-5.5", input="x", tools=[CI])
    job = finalizing_job(session, tenant, response)
    with flaky_proxy(simulator.url, failures=-1, status=502) as proxy:
        down = openai.OpenAI(base_url=proxy.url, api_key="sk-x", max_retries=0)
        assert finalize_job(session, job.id, client=down, settings=settings) is None
    session.refresh(job)
    assert job.status == "finalizing"
    assert job.lease_owner is None and job.next_poll_at is not None
    assert job.next_poll_at > utcnow()  # comes back later through the sweep
    assert [a.status for a in artifact_rows(session, job)] == ["failed"]

    # The outage is over at the next round: the file is stored and the job completes.
    assert finalize_job(session, job.id, client=upstream, settings=settings) == "completed"
    [artifact] = artifact_rows(session, job)
    assert (artifact.status, artifact.attempts) == ("stored", 2)


def test_rounds_are_bounded_then_the_job_completes_with_failed_files(
    session: Session, tenant: Any, simulator: Any, settings: Settings
) -> None:
    upstream = openai.OpenAI(base_url=simulator.url, api_key="sk-x", max_retries=0)
    response = run_response(upstream, model="gpt-5.5", input="x", tools=[CI])
    job = finalizing_job(session, tenant, response)
    outcomes = []
    with flaky_proxy(simulator.url, failures=-1, status=502) as proxy:
        down = openai.OpenAI(base_url=proxy.url, api_key="sk-x", max_retries=0)
        for _ in range(settings.artifact_rounds):
            outcomes.append(finalize_job(session, job.id, client=down, settings=settings))
    assert outcomes == [None] * (settings.artifact_rounds - 1) + ["completed"]
    [artifact] = artifact_rows(session, job)
    assert artifact.status == "failed" and artifact.attempts == settings.artifact_rounds

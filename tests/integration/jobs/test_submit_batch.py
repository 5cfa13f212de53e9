"""A submit task creates its whole batch concurrently on the async SDK and records each outcome
on its own: created, retried later, failed past its deadline, or left to the relay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from longhaul.core import messages, upstream
from longhaul.core.config import get_settings
from longhaul.core.jobs.submit import submit_jobs
from longhaul.core.models import Job, utcnow
from longhaul.simulator import start_simulator
from tests.support.factories import add_job


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    with start_simulator(queued_seconds=5, run_seconds=5) as sim:
        yield sim


def job_with(session: Session, tenant: Any, scenario: str = "", **fields: Any) -> Job:
    body = {"model": "gpt-5.5", "input": "x", "metadata": {"longhaul_sim": scenario}}
    return add_job(session, tenant.id, request_body=body, next_poll_at=utcnow(), **fields)


def test_a_batch_is_created_concurrently_and_each_outcome_recorded(
    session: Session, tenant: Any, simulator: Any
) -> None:
    settings = get_settings().model_copy(update={"openai_base_url": simulator.url})
    runner = upstream.AsyncUpstream(settings)
    fine = [job_with(session, tenant) for _ in range(5)]
    throttled = job_with(session, tenant, "create429:1")
    late = job_with(session, tenant, deadline_at=utcnow() - timedelta(seconds=1))
    streaming = add_job(
        session,
        tenant.id,
        request_body={"model": "gpt-5.5", "input": "x", "stream": True},
        next_poll_at=utcnow(),
    )
    ids = [j.id for j in [*fine, throttled, late, streaming]]

    sent: list[messages.Message] = []
    previous = messages.install(sent.extend)
    try:
        submit_jobs(session, ids, settings=settings, runner=runner)
    finally:
        messages.install(previous)

    def fresh(job: Job) -> Job:
        session.refresh(job)
        return job

    for job in fine:  # created upstream and running, each with its own upstream id
        assert fresh(job).status == "in_progress" and job.upstream_response_id
        assert job.submit_attempts == 1 and job.lease_owner is None
    assert len({j.upstream_response_id for j in fine}) == 5
    # A 429 puts that job alone back in line, with the error and a backoff.
    assert fresh(throttled).status == "queued" and throttled.upstream_response_id is None
    assert throttled.error and throttled.error["code"] == "rate_limit_exceeded"
    assert throttled.next_poll_at and throttled.next_poll_at > utcnow()
    # Past its deadline: never sent, handed to finalize to fail.
    assert fresh(late).status == "finalizing" and late.error["code"] == "deadline_exceeded"
    assert late.submit_attempts == 0
    # A young streaming job is the relay's to create.
    assert fresh(streaming).status == "queued" and streaming.submit_attempts == 0
    assert sent == [messages.finalize_handover(late.id)]  # after the commit, nothing else

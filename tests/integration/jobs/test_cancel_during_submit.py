"""A cancel that lands while the create call is in flight is honoured whichever way the call
ends: success (cancelled upstream right after) or a retryable error (never retried)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import openai
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from longhaul.core import messages
from longhaul.core.config import get_settings
from longhaul.core.db import session_scope
from longhaul.core.jobs.finalize import finalize_job
from longhaul.core.jobs.submit import submit_job
from longhaul.core.models import Job, utcnow
from longhaul.simulator import start_simulator
from tests.support.factories import add_job


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    with start_simulator(queued_seconds=5, run_seconds=5) as sim:
        yield sim


def cancel_on_create(job_id: str, database_url: str) -> openai.OpenAI:
    """An SDK client that, as its create request leaves, records the user's cancel — what
    `POST /v1/responses/{id}/cancel` does while the job is `submitting`."""

    def hook(request: Any) -> None:
        if request.method == "POST" and request.url.path.endswith("/responses"):
            with session_scope(database_url) as s:
                s.execute(update(Job).where(Job.id == job_id).values(cancel_requested_at=utcnow()))

    return openai.OpenAI(
        api_key="sk-x",
        max_retries=0,
        http_client=openai.DefaultHttpxClient(event_hooks={"request": [hook]}),
    )


def queued_job(session: Session, tenant: Any, scenario: str) -> Job:
    body = {"model": "gpt-5.5", "input": "x", "metadata": {"longhaul_sim": scenario}}
    return add_job(session, tenant.id, request_body=body, next_poll_at=utcnow())


@pytest.mark.parametrize(
    ("scenario", "followups"), [("create429:3", ["finalize"]), ("", ["cancel"])]
)
def test_cancel_during_create(
    session: Session,
    tenant: Any,
    simulator: Any,
    database_url: str,
    scenario: str,
    followups: list[str],
) -> None:
    job = queued_job(session, tenant, scenario)
    client = cancel_on_create(job.id, database_url).with_options(base_url=simulator.url)
    settings = get_settings()
    sent: list[messages.Message] = []
    previous = messages.install(sent.extend)
    try:
        submit_job(session, job.id, client=client, settings=settings)
    finally:
        messages.install(previous)
    expected = {"finalize": messages.finalize_handover, "cancel": partial(messages.step, "cancel")}
    assert sent == [expected[step](job.id) for step in followups]  # after its commit
    session.refresh(job)
    if followups == ["finalize"]:  # the 429 is not retried: the job ends cancelled
        assert finalize_job(session, job.id, client=client, settings=settings) == "cancelled"
        assert job.upstream_response_id is None
    else:  # created upstream: it moves to cancelling, and the cancel step follows
        assert job.status == "cancelling" and job.upstream_response_id

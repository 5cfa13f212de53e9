"""Finalize in batches: one claim, the jobs without files ended one after the other (each in its
own transaction, so one failing job does not take the others down), a job with files sent on
alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from longhaul.core import messages
from longhaul.core.config import Settings, get_settings
from longhaul.core.costs import ledger
from longhaul.core.jobs.finalize import finalize_jobs
from longhaul.core.models import Job, utcnow
from longhaul.core.models.costs import LedgerLine
from longhaul.core.models.webhooks import WebhookEvent
from longhaul.simulator import start_simulator
from tests.integration.artifacts.conftest import run_response
from tests.support.factories import add_job
from tests.support.infra import own_database

CI = {"type": "code_interpreter", "container": {"type": "auto"}}


@pytest.fixture(scope="module")
def database_url(pg_server_url: str) -> Iterator[str]:
    """This module's own database: its webhook deliveries (to an address that never answers)
    must not stay pending where other modules count pending deliveries."""
    with own_database(pg_server_url) as url:
        yield url


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    with start_simulator(queued_seconds=0.01, run_seconds=0.05) as sim:
        yield sim


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LONGHAUL_STORAGE_URL", f"file://{tmp_path / 'artifacts'}")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def sent() -> Iterator[list[messages.Message]]:
    box: list[messages.Message] = []
    previous = messages.install(box.extend)
    yield box
    messages.install(previous)


def finalizing(session: Session, tenant: Any, response: dict[str, Any], **fields: Any) -> Job:
    return add_job(
        session,
        tenant.id,
        status="finalizing",
        upstream_status=response["status"],
        response_body=response,
        next_poll_at=utcnow(),
        webhook_url="https://hooks.example.com/lh",
        **fields,
    )


def count(session: Session, model: Any, job: Job) -> int:
    return int(session.execute(select(func.count()).where(model.job_id == job.id)).scalar_one())


def test_a_batch_ends_its_plain_jobs_together_and_sends_a_job_with_files_alone(
    session: Session,
    tenant: Any,
    simulator: Any,
    settings: Settings,
    sent: list[messages.Message],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upstream = openai.OpenAI(base_url=simulator.url, api_key="sk-x", max_retries=0)
    plain = [
        finalizing(session, tenant, run_response(upstream, model="gpt-5.5", input=f"q{i}"))
        for i in range(3)
    ]
    filed = finalizing(
        session, tenant, run_response(upstream, model="gpt-5.5", input="x", tools=[CI])
    )
    broken = finalizing(session, tenant, run_response(upstream, model="gpt-5.5", input="b"))
    done = add_job(session, tenant.id, status="completed")  # not finalizing: not claimed

    real = ledger.write_ledger

    def write_ledger(s: Session, job: Job, response: dict[str, Any]) -> None:
        if job.id == broken.id:  # a fault in this job's writes only
            raise RuntimeError("price table broken")
        real(s, job, response)

    monkeypatch.setattr("longhaul.core.jobs.finalize.write_ledger", write_ledger)
    ids = [j.id for j in [*plain, filed, broken, done]]
    results = finalize_jobs(session, ids, settings=settings)

    assert results == {**{j.id: "completed" for j in plain}, filed.id: None, broken.id: None}
    session.expire_all()
    for job in plain:  # ended: final state, ledger, one event, its webhook on its way
        assert session.get_one(Job, job.id).status == "completed"
        assert count(session, LedgerLine, job) > 0 and count(session, WebhookEvent, job) == 1
    # The failing job's transaction rolled back: nothing of it written; it comes back later.
    again = session.get_one(Job, broken.id)
    assert again.status == "finalizing" and again.lease_owner is None
    assert again.next_poll_at is not None and again.next_poll_at > utcnow()
    assert count(session, LedgerLine, broken) == 0 and count(session, WebhookEvent, broken) == 0
    # The job with files is released and goes on as a message of its own.
    alone = session.get_one(Job, filed.id)
    assert alone.status == "finalizing" and alone.lease_owner is None
    assert messages.step("finalize", filed.id) in sent
    delivered = [m for m in sent if m.task == messages.DELIVER]
    assert len(delivered) == 3  # one per ended job's webhook, each after its job's commit


def test_a_sweep_batch_claims_only_the_jobs_reserved_under_its_token(
    session: Session, tenant: Any, settings: Settings, sent: list[messages.Message]
) -> None:
    response = {"id": "resp_t", "status": "completed", "model": "gpt-5.5", "output": []}
    mine = finalizing(session, tenant, response, lease_owner="tok_a", lease_until=utcnow())
    theirs = finalizing(session, tenant, response, lease_owner="tok_b", lease_until=utcnow())
    results = finalize_jobs(session, [mine.id, theirs.id], settings=settings, token="tok_a")
    assert results == {mine.id: "completed"}
    session.expire_all()
    assert session.get_one(Job, theirs.id).status == "finalizing"
    # Run twice (a redelivered message): nothing left to claim, nothing written twice.
    assert finalize_jobs(session, [mine.id], settings=settings, token="tok_a") == {}
    assert count(session, WebhookEvent, mine) == 1

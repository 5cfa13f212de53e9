"""Orphans (core/jobs/orphans.py), on PostgreSQL and the simulator: an upstream response tagged
with a job's id that is not the job's own, named by an inbound webhook, is cancelled if it still
runs and its usage lands on the job's ledger as duplicate lines, once; the job's own ledger is
still written in full."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.config import get_settings
from longhaul.core.costs.ledger import DUPLICATE_KIND, ledger_lines, write_ledger
from longhaul.core.db import session_scope
from longhaul.core.jobs.orphans import settle_orphans
from longhaul.core.models import Job, utcnow
from longhaul.core.models.webhooks import InboundWebhook
from longhaul.simulator import start_simulator
from tests.support.factories import add_job


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    with start_simulator(queued_seconds=0.05, run_seconds=0.2) as sim:
        yield sim


@pytest.fixture
def upstream(simulator: Any, monkeypatch: pytest.MonkeyPatch) -> openai.OpenAI:
    monkeypatch.setenv("LONGHAUL_OPENAI_BASE_URL", simulator.url)
    monkeypatch.setenv("LONGHAUL_OPENAI_API_KEY", "sk-test")
    get_settings.cache_clear()
    return openai.OpenAI(base_url=simulator.url, api_key="sk-test", max_retries=0)


def _inbound(session: Session, response_id: str) -> None:
    session.add(
        InboundWebhook(
            webhook_id=f"wh_{uuid.uuid4().hex}",
            type="response.completed",
            response_id=response_id,
            job_id=None,
            received_at=utcnow(),
        )
    )
    session.commit()


def _status(simulator: Any, response_id: str) -> str:
    url = f"{simulator.root_url}/_sim/responses/{response_id}"
    return str(httpx.get(url).json()["status"])


def test_orphans_are_cancelled_priced_once_and_leave_the_jobs_own_ledger_alone(
    session: Session, tenant: Any, simulator: Any, upstream: openai.OpenAI, database_url: str
) -> None:
    job = add_job(session, tenant.id, status="in_progress", model="gpt-5.5")
    tag = {"longhaul_job_id": job.id}
    own = upstream.responses.create(model="gpt-5.5", input="hi", background=True, metadata=tag)
    finished = upstream.responses.create(model="gpt-5.5", input="hi", background=True,
                                         metadata=tag)  # fmt: skip
    running = upstream.responses.create(
        model="gpt-5.5", input="hi", background=True,
        metadata={**tag, "longhaul_sim": "slow:60"},
    )  # fmt: skip
    stranger = upstream.responses.create(model="gpt-5.5", input="hi", background=True)
    job.upstream_response_id = own.id
    session.commit()
    time.sleep(1.0)  # ``finished`` completes (with usage); ``running`` runs on
    for rid in (own.id, finished.id, running.id, stranger.id):
        _inbound(session, rid)

    def scope() -> Any:
        return session_scope(database_url)

    assert settle_orphans(scope, get_settings()) == 2
    assert _status(simulator, running.id) == "cancelled"
    assert _status(simulator, finished.id) == "completed"
    session.expire_all()
    lines = ledger_lines(session, job.id)
    assert lines and all(line.kind == DUPLICATE_KIND for line in lines)
    assert {line.details["duplicate_of"] for line in lines} >= {finished.id}
    assert all(line.item.startswith(f"duplicate:{line.details['duplicate_of']}:") for line in lines)
    assert session.get_one(Job, job.id).possibly_duplicated is True
    settled = session.execute(
        select(InboundWebhook.response_id, InboundWebhook.job_id).where(
            InboundWebhook.response_id.in_([own.id, finished.id, running.id, stranger.id])
        )
    ).all()
    assert {rid: jid for rid, jid in settled} == {
        own.id: job.id,
        finished.id: job.id,
        running.id: job.id,
        stranger.id: None,
    }
    # Once only: nothing is left to settle, nothing is added.
    assert settle_orphans(scope, get_settings()) == 0
    assert len(ledger_lines(session, job.id)) == len(lines)

    # The job's own response still prices in full beside the duplicate lines.
    body = upstream.responses.retrieve(own.id).model_dump()
    write_ledger(session, session.get_one(Job, job.id), body)
    session.commit()
    kinds = {line.kind for line in ledger_lines(session, job.id)}
    assert DUPLICATE_KIND in kinds and len(kinds) > 1


def test_a_response_whose_job_has_no_upstream_id_yet_waits(
    session: Session, tenant: Any, simulator: Any, upstream: openai.OpenAI, database_url: str
) -> None:
    job = add_job(session, tenant.id, status="queued")  # its retried create is still to come
    first = upstream.responses.create(model="gpt-5.5", input="hi", background=True,
                                      metadata={"longhaul_job_id": job.id})  # fmt: skip
    _inbound(session, first.id)

    def scope() -> Any:
        return session_scope(database_url)

    assert settle_orphans(scope, get_settings()) == 0
    assert ledger_lines(session, job.id) == []
    job.upstream_response_id = "resp_the_retry"
    job.status = "in_progress"
    session.commit()
    assert settle_orphans(scope, get_settings()) == 1

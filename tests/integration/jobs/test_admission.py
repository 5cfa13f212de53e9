"""Admission: the real sweep task, on real Redis and PostgreSQL, never sends a second message for
a job whose message is still waiting in the queue, however long it waits; once the message has
left the queue without starting (lost), the job is sent again."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy.orm import Session

from longhaul.core.config import get_settings
from longhaul.core.jobs import sweep as sweep_module
from longhaul.core.models import Job, utcnow
from tests.support.factories import add_job
from tests.support.infra import own_database

STEP_QUEUES = ("submit", "poll", "finalize")
# Due long ago, so these sort before any due job other tests left in the session's database.
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def database_url(pg_server_url: str) -> Iterator[str]:
    """This module's own database: due jobs other modules left behind would fill the sweep's
    bounded batches before this module's own jobs."""
    with own_database(pg_server_url) as url:
        yield url


@pytest.fixture
def broker(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    """The session's Redis as the Celery broker (an app imported earlier may point elsewhere),
    with the step queues empty: messages other runs left there (a shared Redis keeps them) are
    parked under another key for the test and put back after it."""
    from longhaul.core import messages
    from longhaul.worker import app as app_module
    from longhaul.worker.dispatch import send_messages

    if str(app_module.app.conf.broker_url) != redis_url:
        monkeypatch.setattr(app_module, "app", app_module.create_celery())
    # The worker's sender (an API app built earlier in this process may have installed its own).
    monkeypatch.setattr(messages, "_sender", send_messages)
    r = redis.Redis.from_url(redis_url)
    parked = {q: f"{q}:parked-by-test:{uuid.uuid4().hex}" for q in STEP_QUEUES}
    for queue, spot in parked.items():
        if r.exists(queue):
            r.rename(queue, spot)
    try:
        yield r
    finally:
        for queue, spot in parked.items():
            r.delete(queue)
            if r.exists(spot):
                r.rename(spot, queue)


def messages_for(r: redis.Redis, queue: str, job_id: str) -> list[dict[str, Any]]:
    found = []
    for raw in r.lrange(queue, 0, -1):
        message = json.loads(raw)
        if job_id.encode() in base64.b64decode(message["body"]):
            found.append(message)
    return found


def drop_messages(r: redis.Redis, queue: str, job_id: str) -> None:
    for raw in r.lrange(queue, 0, -1):
        if job_id.encode() in base64.b64decode(json.loads(raw)["body"]):
            r.lrem(queue, 0, raw)


def run_sweep_at(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    from longhaul.worker.tasks.maintenance import sweep

    monkeypatch.setattr(sweep_module, "utcnow", lambda: at)
    sweep()


def test_sweep_never_sends_a_second_message_for_a_queued_one(
    session: Session, tenant: Any, broker: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from longhaul.core import messages
    from longhaul.worker.dispatch import send_messages

    lease = get_settings().lease_seconds
    # Accepted by the intake: its submit message is sent after commit and waits in the queue;
    # the row's safety net (``next_poll_at``) is a lease away, as the intake writes it.
    queued = add_job(
        session, tenant.id, status="queued", next_poll_at=utcnow() + timedelta(seconds=lease)
    )
    send_messages([messages.step("submit", queued.id)])
    # Running and due: the sweep sends its poll once.
    running = add_job(
        session,
        tenant.id,
        status="in_progress",
        upstream_response_id=f"resp_{queued.id}",
        next_poll_at=LONG_AGO,
    )

    # Hours pass while nothing consumes the queues: every reservation and grace runs out, again
    # and again, yet both messages are still waiting, so neither job is sent again.
    for hours in (0, 1, 2, 3):
        run_sweep_at(monkeypatch, utcnow() + timedelta(hours=hours))
        assert len(messages_for(broker, "submit", queued.id)) == 1
        assert len(messages_for(broker, "poll", running.id)) == 1
    [batch] = messages_for(broker, "poll", running.id)
    assert batch["headers"]["task"] == "longhaul.jobs.poll_batch"

    # The messages leave the queue without starting their step (a worker took them and died):
    # the sweep sends each job once more, with a new token.
    session.refresh(running)
    old_token = running.lease_owner
    drop_messages(broker, "submit", queued.id)
    drop_messages(broker, "poll", running.id)
    later = utcnow() + timedelta(hours=4)
    run_sweep_at(monkeypatch, later)
    run_sweep_at(monkeypatch, later)
    assert len(messages_for(broker, "submit", queued.id)) == 1
    assert len(messages_for(broker, "poll", running.id)) == 1
    session.refresh(running)
    assert running.lease_owner not in (None, old_token)


def test_a_started_step_is_not_sent_again_until_its_lease_runs_out(
    session: Session, tenant: Any, broker: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease starts when the worker starts: the token from the queue claims it, a second
    delivery of the same message finds nothing, and the sweep leaves the job alone meanwhile."""
    from longhaul.core.jobs.state import claim

    job = add_job(session, tenant.id, status="finalizing", next_poll_at=LONG_AGO)
    run_sweep_at(monkeypatch, utcnow())
    [message] = messages_for(broker, "finalize", job.id)
    _, token = json.loads(base64.b64decode(message["body"]))[0]
    drop_messages(broker, "finalize", job.id)  # a worker took it

    started = claim(session, job.id, ["finalizing"], lease_seconds=60, token=token)
    assert started is not None
    session.commit()
    assert claim(session, job.id, ["finalizing"], lease_seconds=60, token=token) is None
    session.rollback()
    run_sweep_at(monkeypatch, utcnow() + timedelta(seconds=30))
    assert messages_for(broker, "finalize", job.id) == []
    run_sweep_at(monkeypatch, utcnow() + timedelta(seconds=90))  # the worker died: lease ran out
    assert len(messages_for(broker, "finalize", job.id)) == 1
    session.refresh(job)
    assert isinstance(job, Job) and job.lease_owner not in (None, token, started[1])

"""The relay SIGKILLed while 100 jobs stream, then restarted: no event lost or repeated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from longhaul.simulator import start_simulator
from tests.support.stack import Stack, running_stack, wait_for


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    with start_simulator(queued_seconds=0.2, run_seconds=1.0) as sim:  # resume limit as OpenAI
        yield sim


@pytest.fixture(scope="module")
def stack(database_url: str, redis_url: str, simulator: Any) -> Iterator[Stack]:
    env = {
        "LONGHAUL_STREAM_ALL": "true",
        "LONGHAUL_RELAY_LEASE_SECONDS": "3",
        # 100 jobs polled by one small worker: leases long enough that a queued poll task
        # still holds its job's lease when it runs.
        "LONGHAUL_LEASE_SECONDS": "30",
        "LONGHAUL_POLL_INITIAL_SECONDS": "1",
        "LONGHAUL_POLL_MAX_SECONDS": "5",
    }
    with running_stack(database_url, redis_url, simulator.url, extra_env=env) as st:
        st.start("relay", "relay")
        yield st


@pytest.fixture(scope="module")
def client(stack: Stack, database_url: str) -> openai.OpenAI:
    from longhaul.core.auth import create_api_key
    from longhaul.core.db import session_scope

    with session_scope(database_url) as session:
        key = create_api_key(session, tenant_name=f"e2e-{uuid.uuid4().hex[:8]}")
    return openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=key, max_retries=0)


def test_relay_killed_mid_stream(client: openai.OpenAI, stack: Stack, database_url: str) -> None:
    """SIGKILL the relay while 100 jobs stream; a new relay resumes each stream from its last
    stored upstream number: per job, 0 lost and 0 duplicated events, and every job completes."""
    from sqlalchemy import select

    from longhaul.core.db import session_scope
    from longhaul.core.models.streams import JobEvent, JobStream

    ids = [
        client.responses.create(
            model="gpt-5.5",
            input=f"job {n}",
            background=True,
            metadata={"longhaul_sim": "slow:4"},
        ).id
        for n in range(100)
    ]

    def streamed() -> int:
        with session_scope(database_url) as session:
            rows = session.execute(
                select(JobEvent.job_id)
                .where(JobEvent.job_id.in_(ids), JobEvent.type == "response.output_text.delta")
                .distinct()
            ).all()
            return len(rows)

    wait_for(lambda: streamed() >= 50, timeout=60, what="half the jobs streaming text")
    stack.procs["relay"].kill()
    stack.start("relay", "relay")
    wait_for(lambda: stack.all_completed(client.api_key, ids), timeout=180, what="all jobs")

    def all_done() -> bool:
        with session_scope(database_url) as session:
            statuses = session.execute(
                select(JobStream.status).where(JobStream.job_id.in_(ids))
            ).scalars()
            return list(statuses).count("done") == len(ids)

    wait_for(all_done, timeout=60, what="every stream's final event")
    with session_scope(database_url) as session:
        rows = session.execute(
            select(
                JobEvent.job_id,
                JobEvent.sequence_number,
                JobEvent.type,
                JobEvent.upstream_sequence_number,
            )
            .where(JobEvent.job_id.in_(ids))
            .order_by(JobEvent.job_id, JobEvent.sequence_number)
        ).all()
    by_job: dict[str, list[Any]] = {}
    for row in rows:
        by_job.setdefault(row.job_id, []).append(row)
    upstream_events = None
    for job_id in ids:
        events = by_job[job_id]
        assert [e.sequence_number for e in events] == list(range(len(events)))
        assert events[-1].type == "response.completed"
        relayed = [
            e.upstream_sequence_number for e in events if e.upstream_sequence_number is not None
        ]
        # Upstream numbers 1.. (0 is the upstream's response.created, replaced by Longhaul's
        # own event 0) up to the one before its terminal event: all there, once each.
        assert relayed == list(range(1, len(relayed) + 1)), job_id
        upstream_events = upstream_events or len(relayed)
        assert len(relayed) == upstream_events, job_id

"""Live progress end to end: relay, stored events, resume at any age through the official SDK."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

from longhaul.simulator import start_simulator
from tests.support.stack import Stack, running_stack

RESUME_LIMIT = 1.0  # the simulator's stand-in for OpenAI's 5 minutes


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    with start_simulator(
        queued_seconds=0.2, run_seconds=2.0, stream_resume_seconds=RESUME_LIMIT
    ) as sim:
        yield sim


@pytest.fixture(scope="module")
def stack(database_url: str, redis_url: str, simulator: Any) -> Iterator[Stack]:
    env = {"LONGHAUL_STREAM_ALL": "true", "LONGHAUL_RELAY_LEASE_SECONDS": "3"}
    with running_stack(database_url, redis_url, simulator.url, extra_env=env) as st:
        st.start("relay", "relay")
        yield st


def _key(database_url: str) -> str:
    from longhaul.core.auth import create_api_key
    from longhaul.core.db import session_scope

    with session_scope(database_url) as session:
        return create_api_key(session, tenant_name=f"e2e-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def api_key(database_url: str) -> str:
    return _key(database_url)


@pytest.fixture(scope="module")
def client(stack: Stack, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=api_key, max_retries=0)


def test_drop_and_resume_past_the_upstream_limit(client: openai.OpenAI) -> None:
    job = client.responses.create(
        model="o3",
        input="Survey comets",
        background=True,
        reasoning={"summary": "auto"},
        tools=[{"type": "web_search"}],
    )
    head = []
    with client.responses.retrieve(job.id, stream=True) as stream:
        for event in stream:
            head.append(event)
            if len(head) == 6:
                break
    assert head[0].type == "response.created"
    assert head[0].response.id == job.id  # type: ignore[union-attr]
    time.sleep(RESUME_LIMIT + 2.5)  # the upstream would refuse this resume by now
    rest = list(client.responses.retrieve(job.id, stream=True, starting_after=5))
    numbers = [e.sequence_number for e in head + rest]
    assert numbers == list(range(len(numbers)))
    assert rest[-1].type == "response.completed"
    final = client.responses.retrieve(job.id)
    assert rest[-1].response.model_dump() == final.model_dump()  # type: ignore[union-attr]
    kinds = [e.type for e in head + rest]
    assert "response.output_text.delta" in kinds
    assert "response.web_search_call.completed" in kinds
    text = "".join(e.delta for e in head + rest if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    assert text == final.output_text
    progress = httpx2.get(
        f"{client.base_url}jobs/{job.id}", headers={"Authorization": f"Bearer {client.api_key}"}
    ).json()["progress"]
    assert progress["output_text"] == final.output_text
    assert progress["reasoning_summary"].startswith("**Planning the response**")
    assert progress["tool_calls_started"] == progress["tool_calls_finished"] == 1
    assert progress["stream"] == "done" and progress["last_event_at"]
    # The SDK helper re-reads from event 0 and accumulates the same final response.
    with client.responses.stream(response_id=job.id) as helper:
        assert helper.get_final_response().output_text == final.output_text


def test_refused_resume_falls_back_to_polling(client: openai.OpenAI) -> None:
    # Cut after 3 events, when the response has left the queue past the resume limit: the
    # relay's resume is refused, the stream says so, and the final event still comes.
    job = client.responses.create(
        model="gpt-5.5",
        input="hi",
        background=True,
        metadata={"longhaul_sim": f"queued:{RESUME_LIMIT + 0.5},streamdrop:3"},
    )
    events = list(client.responses.retrieve(job.id, stream=True))
    kinds = [e.type for e in events]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "longhaul.stream.polling" in kinds
    notice = events[kinds.index("longhaul.stream.polling")]
    assert "refused" in notice.model_dump()["message"]
    assert kinds[-1] == "response.completed"
    assert events[-1].response.model_dump() == client.responses.retrieve(job.id).model_dump()  # type: ignore[union-attr]


def test_bad_requests_and_other_tenants(
    client: openai.OpenAI, stack: Stack, database_url: str, api_key: str
) -> None:
    job = client.responses.create(model="gpt-5.5", input="hi", background=True)
    url = f"{stack.api_url}/v1/responses/{job.id}"
    auth = {"Authorization": f"Bearer {api_key}"}
    for bad in ("x", "-1", "100000", "1.5"):
        reply = httpx2.get(url, params={"stream": "true", "starting_after": bad}, headers=auth)
        assert reply.status_code == 400, (bad, reply.text)
        assert reply.json()["error"]["param"] == "starting_after"
    other = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=_key(database_url), max_retries=0)
    with pytest.raises(openai.NotFoundError):
        list(other.responses.retrieve(job.id, stream=True))


def test_delete_takes_the_events(client: openai.OpenAI, database_url: str) -> None:
    from sqlalchemy import func, select

    from longhaul.core.db import session_scope
    from longhaul.core.models.streams import JobEvent

    job = client.responses.create(model="gpt-5.5", input="hi", background=True)
    assert list(client.responses.retrieve(job.id, stream=True))[-1].type == "response.completed"

    def count() -> int:
        with session_scope(database_url) as session:
            query = select(func.count()).where(JobEvent.job_id == job.id)
            return int(session.execute(query).scalar_one())

    assert count() > 5
    client.responses.delete(job.id)
    assert count() == 0

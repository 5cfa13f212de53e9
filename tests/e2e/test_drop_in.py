"""Drop-in clients through the official SDK over HTTP: streaming creates, and plain or streaming
requests without ``background``, all served from durable background jobs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from longhaul.simulator import start_simulator
from tests.support.stack import Stack, running_stack, wait_for

# LONGHAUL_SYNC_WAIT_SECONDS of this stack: a 1.2 s job must end within it on a busy machine.
SYNC_WAIT = 10.0


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    with start_simulator(queued_seconds=0.2, run_seconds=1.0) as sim:
        yield sim


@pytest.fixture(scope="module")
def stack(database_url: str, redis_url: str, simulator: Any) -> Iterator[Stack]:
    # No LONGHAUL_STREAM_ALL: only `stream: true` requests stream.
    env = {"LONGHAUL_SYNC_WAIT_SECONDS": str(SYNC_WAIT), "LONGHAUL_POLL_INITIAL_SECONDS": "0.5"}
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


def _dump(response: Any) -> dict[str, Any]:
    return response.model_dump()  # type: ignore[no-any-return]


def test_streaming_create_in_background(client: openai.OpenAI) -> None:
    events = list(
        client.responses.create(
            model="o3",
            input="Survey comets",
            background=True,
            stream=True,
            reasoning={"summary": "auto"},
            tools=[{"type": "web_search"}],
        )
    )
    first = events[0]
    assert first.type == "response.created"
    job_id = first.response.id  # type: ignore[union-attr]
    assert job_id.startswith("resp_") and first.response.status == "queued"  # type: ignore[union-attr]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [e.type for e in events]
    assert "response.in_progress" in kinds and "response.output_text.delta" in kinds
    assert "response.web_search_call.completed" in kinds
    for event in events:  # every lifecycle event carries the job's own id
        if hasattr(event, "response"):
            assert event.response.id == job_id  # type: ignore[union-attr]
    assert kinds[-1] == "response.completed"
    final = client.responses.retrieve(job_id)
    assert _dump(events[-1].response) == _dump(final)  # type: ignore[union-attr]
    assert final.model_extra and final.model_extra["longhaul"]["mode"] == "background"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    assert text == final.output_text


def test_stream_helper_and_a_dropped_stream(client: openai.OpenAI) -> None:
    with client.responses.stream(model="gpt-5.5", input="hi", background=True) as helper:
        final = helper.get_final_response()
    assert final.status == "completed"
    assert final.output_text == client.responses.retrieve(final.id).output_text
    # Drop the connection after three events: the job runs on, the rest is there to resume.
    head = []
    stream = client.responses.create(
        model="gpt-5.5",
        input="hi",
        background=True,
        stream=True,
        metadata={"longhaul_sim": "slow:2"},
    )
    for event in stream:
        head.append(event)
        if len(head) == 3:
            break
    stream.close()
    job_id = head[0].response.id  # type: ignore[union-attr]
    wait_for(lambda: client.responses.retrieve(job_id).status == "completed", 60, what="the job")
    rest = list(client.responses.retrieve(job_id, stream=True, starting_after=2))
    numbers = [e.sequence_number for e in head + rest]
    assert numbers == list(range(len(numbers)))
    assert rest[-1].type == "response.completed"


def test_plain_create_waits_for_the_result(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-5.5", input="Say hi")
    assert response.status == "completed" and response.output_text
    assert response.model_extra and response.model_extra["longhaul"]["mode"] == "sync"
    assert _dump(response) == _dump(client.responses.retrieve(response.id))


def test_plain_create_past_the_wait_answers_in_progress(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-5.5", input="hi", metadata={"longhaul_sim": f"slow:{SYNC_WAIT + 2}"}
    )
    assert response.status in ("queued", "in_progress")  # as it stands; the client polls
    wait_for(
        lambda: client.responses.retrieve(response.id).status == "completed", 60, what="the job"
    )


def test_streaming_without_background(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="gpt-5.5", input="hi", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = client.responses.retrieve(events[0].response.id)  # type: ignore[union-attr]
    assert _dump(events[-1].response) == _dump(final)  # type: ignore[union-attr]
    assert final.model_extra and final.model_extra["longhaul"]["mode"] == "stream"
    with client.responses.stream(model="gpt-5.5", input="hi") as helper:
        assert helper.get_final_response().status == "completed"


def test_a_client_that_leaves_mid_wait_finds_the_job_later(client: openai.OpenAI) -> None:
    key = f"leave-{uuid.uuid4().hex}"
    body: dict[str, Any] = {
        "model": "gpt-5.5",
        "input": "hi",
        "metadata": {"longhaul_sim": "slow:2"},
        "extra_headers": {"Idempotency-Key": key},
    }
    impatient = client.with_options(timeout=0.5)
    with pytest.raises(openai.APITimeoutError):
        impatient.responses.create(**body)
    time.sleep(0.5)
    # The same request with the same Idempotency-Key finds the job, and waits for its end.
    again = client.responses.create(**body)
    assert again.status == "completed"
    assert client.responses.retrieve(again.id).status == "completed"


def test_store_false_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="hi", store=False)
    assert info.value.body["param"] == "store"  # type: ignore[index]


def test_the_relay_reports_itself(stack: Stack) -> None:
    import httpx2

    text = httpx2.get(f"{stack.api_url}/metrics", timeout=10).text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("longhaul_"))
    assert float(lines["longhaul_relays"]) == 1.0  # its heartbeat
    assert 'longhaul_streams{status="unclaimed"}' in lines

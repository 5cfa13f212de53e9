"""Background lifecycle, cancel, delete, input items and admin endpoints over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx2
import openai
import pytest

from longhaul.simulator import SimulatorHandle, start_simulator


def create(client: openai.OpenAI, **kwargs: Any) -> Any:
    params: dict[str, Any] = {
        "model": "gpt-5.5",
        "input": "Summarise the history of Lyon",
        "background": True,
        "store": True,
    }
    params.update(kwargs)
    return client.responses.create(**params)


def test_background_lifecycle_queued_in_progress_completed(
    client: openai.OpenAI, wait_terminal: Any, admin: Any
) -> None:
    created = create(client, metadata={"longhaul_job_id": "job-1"}, service_tier="auto")
    assert created.id.startswith("resp_")
    assert created.status == "queued"
    assert created.background is True
    assert created.completed_at is None
    assert created.output == []
    time.sleep(0.08)
    assert client.responses.retrieve(created.id).status == "in_progress"

    done = wait_terminal(created.id)
    assert done.status == "completed"
    assert done.completed_at is not None and done.completed_at >= done.created_at
    assert done.metadata == {"longhaul_job_id": "job-1"}
    assert done.service_tier == "default"
    assert [item.type for item in done.output] == ["reasoning", "message"]
    assert "Summarise the history of Lyon" in done.output_text
    assert done.output[0].encrypted_content
    assert done.output[0].summary[0].text
    assert done.usage.input_tokens > 0
    assert done.usage.output_tokens_details.reasoning_tokens > 0
    assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens

    raw = admin("GET", f"/_sim/responses/{created.id}")
    assert raw["status"] == "completed"
    assert raw["finished_at"] == pytest.approx(raw["terminal_at"])
    assert raw["finished_at"] <= time.time()
    stats = admin("GET", "/_sim/stats")
    assert stats["responses"][created.id]["create"] == 1
    assert stats["responses"][created.id]["retrieve"] >= 2
    assert stats["create_attempts"]["job-1"] == 1


def test_same_request_gives_same_content(client: openai.OpenAI, wait_terminal: Any) -> None:
    tools: list[Any] = [{"type": "web_search"}, {"type": "image_generation"}]
    first = wait_terminal(create(client, tools=tools).id)
    second = wait_terminal(create(client, tools=tools).id)
    assert first.id != second.id
    assert first.output_text == second.output_text
    assert first.output[2].result == second.output[2].result
    assert first.usage == second.usage


def test_non_reasoning_model_has_no_reasoning_item(
    client: openai.OpenAI, wait_terminal: Any
) -> None:
    done = wait_terminal(create(client, model="gpt-4.1").id)
    assert [item.type for item in done.output] == ["message"]
    assert done.usage.output_tokens_details.reasoning_tokens == 0


@pytest.mark.parametrize(
    ("requested", "reported"),
    [("auto", "default"), ("default", "default"), ("flex", "flex"), ("priority", "priority")],
)
def test_service_tier_reported(client: openai.OpenAI, requested: str, reported: str) -> None:
    assert create(client, service_tier=requested).service_tier == reported


def test_service_tier_fast_reported_as_priority(client: openai.OpenAI) -> None:
    response = create(client, extra_body={"service_tier": "fast"})
    assert response.service_tier == "priority"


def test_foreground_request_completes_immediately(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-5.5", input="hello")
    assert response.status == "completed"
    assert response.background is False


def test_cancel_running_then_idempotent(client: openai.OpenAI, admin: Any) -> None:
    created = create(client, metadata={"longhaul_sim": "slow:30"})
    cancelled = client.responses.cancel(created.id)
    assert cancelled.status == "cancelled"
    assert client.responses.cancel(created.id).status == "cancelled"
    assert client.responses.retrieve(created.id).status == "cancelled"
    raw = admin("GET", f"/_sim/responses/{created.id}")
    assert raw["finished_at"] == pytest.approx(raw["cancelled_at"])
    assert admin("GET", "/_sim/stats")["responses"][created.id]["cancel"] == 2


def test_cancel_completed_returns_unchanged(client: openai.OpenAI, wait_terminal: Any) -> None:
    done = wait_terminal(create(client).id)
    again = client.responses.cancel(done.id)
    assert again.status == "completed"
    assert again.output_text == done.output_text


def test_cancel_foreground_is_refused(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-5.5", input="hello")
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(response.id)


def test_delete_then_404(client: openai.OpenAI, sim: SimulatorHandle) -> None:
    created = create(client)
    reply = httpx2.delete(
        f"{sim.url}/responses/{created.id}", headers={"Authorization": "Bearer sk-test"}
    )
    assert reply.status_code == 200
    assert reply.json() == {"id": created.id, "object": "response.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_unknown_response_is_404_with_openai_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.retrieve("resp_doesnotexist")
    assert info.value.body["message"]
    assert info.value.type == "invalid_request_error"


def test_input_items_pagination(client: openai.OpenAI) -> None:
    messages = [
        {"role": "user", "content": f"message {n}"}
        if n % 2 == 0
        else {"role": "assistant", "content": f"message {n}"}
        for n in range(5)
    ]
    created = create(client, input=messages)
    page = client.responses.input_items.list(created.id, limit=2, order="asc")
    assert [item.content[0].text for item in page.data] == ["message 0", "message 1"]
    assert page.has_more is True
    rest = client.responses.input_items.list(created.id, after=page.last_id, order="asc")
    assert [item.content[0].text for item in rest.data] == ["message 2", "message 3", "message 4"]
    assert rest.has_more is False
    newest_first = client.responses.input_items.list(created.id)
    assert newest_first.data[0].content[0].text == "message 4"
    all_items = list(client.responses.input_items.list(created.id, limit=1, order="asc"))
    assert len(all_items) == 5


def test_previous_response_id(client: openai.OpenAI, wait_terminal: Any) -> None:
    first = wait_terminal(create(client).id)
    second = wait_terminal(create(client, previous_response_id=first.id).id)
    assert second.previous_response_id == first.id
    assert second.usage.input_tokens > first.usage.input_tokens
    with pytest.raises(openai.BadRequestError) as info:
        create(client, previous_response_id="resp_unknown")
    assert info.value.code == "previous_response_not_found"
    assert info.value.param == "previous_response_id"


def test_missing_authorization_is_401(sim: SimulatorHandle) -> None:
    reply = httpx2.get(f"{sim.url}/responses/resp_x")
    assert reply.status_code == 401
    assert reply.json()["error"]["type"] == "invalid_request_error"


def test_poll_after_header_when_configured() -> None:
    with start_simulator(poll_after_ms=1500) as handle:
        client = openai.OpenAI(base_url=handle.url, api_key="k", max_retries=0)
        created = create(client)
        raw = client.responses.with_raw_response.retrieve(created.id)
        assert raw.headers["openai-poll-after-ms"] == "1500"
        assert raw.headers["x-request-id"].startswith("req_")
        assert raw.parse().id == created.id


def test_no_poll_after_header_by_default(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.retrieve(create(client).id)
    assert "openai-poll-after-ms" not in raw.headers


def test_reset_clears_state(client: openai.OpenAI, admin: Any) -> None:
    created = create(client)
    assert admin("POST", "/_sim/reset") == {"ok": True}
    assert admin("GET", "/_sim/stats")["counters"] == {}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_300_concurrent_pollers(sim: SimulatorHandle) -> None:
    """~300 jobs polled at once over 300 keep-alive connections all complete promptly."""
    from concurrent.futures import ThreadPoolExecutor

    http = openai.DefaultHttpxClient(
        limits=httpx2.Limits(max_connections=400, max_keepalive_connections=400)
    )
    client = openai.OpenAI(base_url=sim.url, api_key="k", max_retries=0, http_client=http)

    def job(n: int) -> str:
        response = create(client, metadata={"longhaul_job_id": f"c{n}"})
        for _ in range(100):
            response = client.responses.retrieve(response.id)
            if response.status == "completed":
                break
            time.sleep(0.05)
        return response.status

    with ThreadPoolExecutor(max_workers=300) as pool:
        statuses = list(pool.map(job, range(300)))
    client.close()
    assert statuses == ["completed"] * 300

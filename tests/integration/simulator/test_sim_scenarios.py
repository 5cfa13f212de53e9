"""Every ``metadata.longhaul_sim`` scenario, observed through the official SDK."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest


def create(client: openai.OpenAI, sim: str, job: str = "job", **kwargs: Any) -> Any:
    return client.responses.create(
        model="gpt-5.5",
        input="Write a report on tides",
        background=True,
        store=True,
        metadata={"longhaul_job_id": job, "longhaul_sim": sim},
        **kwargs,
    )


def test_fail(client: openai.OpenAI, wait_terminal: Any) -> None:
    done = wait_terminal(create(client, "fail").id)
    assert done.status == "failed"
    assert done.error.code == "server_error"
    assert done.error.message
    assert done.output == []
    assert done.completed_at is None


def test_incomplete(client: openai.OpenAI, wait_terminal: Any) -> None:
    done = wait_terminal(create(client, "incomplete", max_output_tokens=500).id)
    assert done.status == "incomplete"
    assert done.incomplete_details.reason == "max_output_tokens"
    assert done.output[-1].status == "incomplete"
    assert done.usage.output_tokens == 500


def test_cancelled_on_its_own(client: openai.OpenAI, wait_terminal: Any) -> None:
    assert wait_terminal(create(client, "cancelled").id).status == "cancelled"


def test_stuck_stays_queued(client: openai.OpenAI, admin: Any) -> None:
    created = create(client, "stuck")
    time.sleep(0.3)
    assert client.responses.retrieve(created.id).status == "queued"
    raw = admin("GET", f"/_sim/responses/{created.id}")
    assert raw["terminal_at"] is None and raw["finished_at"] is None


def test_queued_and_slow_timing(client: openai.OpenAI) -> None:
    created = create(client, "queued:0.3,slow:0.3")
    time.sleep(0.15)
    assert client.responses.retrieve(created.id).status == "queued"
    time.sleep(0.3)
    assert client.responses.retrieve(created.id).status == "in_progress"
    time.sleep(0.3)
    assert client.responses.retrieve(created.id).status == "completed"


def test_create429_then_success(client: openai.OpenAI, admin: Any) -> None:
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as info:
            create(client, "create429:2", job="j429")
        assert info.value.response.headers["retry-after"] == "1"
        assert info.value.code == "rate_limit_exceeded"
        assert info.value.body["message"]
    created = create(client, "create429:2", job="j429")
    assert created.status in ("queued", "in_progress")
    assert admin("GET", "/_sim/stats")["create_attempts"]["j429"] == 3


def test_create_fault_counts_are_per_job(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        create(client, "create429:1", job="a")
    with pytest.raises(openai.RateLimitError):
        create(client, "create429:1", job="b")
    assert create(client, "create429:1", job="a").id


def test_create_faults_run_in_sequence(client: openai.OpenAI) -> None:
    sim = "create429:1,create500:1,createdrop:1"
    with pytest.raises(openai.RateLimitError):
        create(client, sim, job="seq")
    with pytest.raises(openai.InternalServerError):
        create(client, sim, job="seq")
    with pytest.raises(openai.APIConnectionError):
        create(client, sim, job="seq")
    assert create(client, sim, job="seq").id.startswith("resp_")


def test_create500(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        create(client, "create500:1", job="j500")
    assert info.value.status_code == 500
    assert info.value.type == "server_error"
    assert create(client, "create500:1", job="j500").id


def test_createdrop_creates_nothing(client: openai.OpenAI, admin: Any) -> None:
    with pytest.raises(openai.APIConnectionError):
        create(client, "createdrop:1", job="jdrop")
    assert admin("GET", "/_sim/stats")["live_responses"] == 0
    assert create(client, "createdrop:1", job="jdrop").id


def test_createdup_creates_then_drops(client: openai.OpenAI, admin: Any) -> None:
    with pytest.raises(openai.APIConnectionError):
        create(client, "createdup:1", job="jdup")
    assert admin("GET", "/_sim/stats")["live_responses"] == 1
    second = create(client, "createdup:1", job="jdup")
    stats = admin("GET", "/_sim/stats")
    assert stats["live_responses"] == 2
    assert stats["counters"]["create"] == 2
    assert second.metadata["longhaul_job_id"] == "jdup"


def test_createhang_creates_then_never_answers(client: openai.OpenAI, admin: Any) -> None:
    """The request reaches the simulator and the response exists, but the caller only sees a
    read timeout: the case where a create may have been sent."""
    impatient = client.with_options(timeout=0.5)
    with pytest.raises(openai.APITimeoutError):
        create(impatient, "createhang:1", job="jhang")
    assert admin("GET", "/_sim/stats")["live_responses"] == 1
    second = create(client, "createhang:1", job="jhang")
    assert admin("GET", "/_sim/stats")["counters"]["create"] == 2
    assert second.metadata["longhaul_job_id"] == "jhang"


def test_createdrop_without_job_id_keys_on_body(client: openai.OpenAI) -> None:
    params: dict[str, Any] = {
        "model": "gpt-5.5",
        "input": "no job id",
        "background": True,
        "metadata": {"longhaul_sim": "createdrop:1"},
    }
    with pytest.raises(openai.APIConnectionError):
        client.responses.create(**params)
    assert client.responses.create(**params).id


def test_poll500(client: openai.OpenAI, wait_terminal: Any) -> None:
    created = create(client, "poll500:2")
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.responses.retrieve(created.id)
    assert wait_terminal(created.id).status == "completed"


def test_quota_is_permanent(client: openai.OpenAI) -> None:
    for _ in range(3):
        with pytest.raises(openai.RateLimitError) as info:
            create(client, "quota", job="jq")
        assert info.value.code == "insufficient_quota"
        assert info.value.type == "insufficient_quota"
        assert "retry-after" not in info.value.response.headers


def test_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        create(client, "bad_request")
    assert info.value.type == "invalid_request_error"


def test_unknown_directive_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        create(client, "explode")
    assert "explode" in info.value.message


def test_sdk_retries_honour_retry_after(sim: Any) -> None:
    client = openai.OpenAI(base_url=sim.url, api_key="k", max_retries=1)
    started = time.monotonic()
    created = create(client, "create429:1", job="retry")
    assert created.id
    assert time.monotonic() - started >= 0.9

"""The spine, end to end: the official SDK → intake → worker → simulator → finalize."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.support.stack import Stack, wait_for

pytestmark = pytest.mark.e2e
TERMINAL = {"completed", "failed", "cancelled", "incomplete"}


def wait_done(client: openai.OpenAI, job_id: str, timeout: float = 30.0) -> Any:
    return wait_for(
        lambda: (r := client.responses.retrieve(job_id)).status in TERMINAL and r,
        timeout,
        what=f"{job_id} to finish",
    )


def job(stack: Stack, key: str, job_id: str) -> dict[str, Any]:
    r = httpx.get(f"{stack.api_url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()


def sim_response(simulator: Any, upstream_id: str) -> dict[str, Any]:
    return httpx.get(simulator.url.removesuffix("/v1") + f"/_sim/responses/{upstream_id}").json()


def create(client: openai.OpenAI, scenario: str | None = None, **kw: Any) -> Any:
    meta = {"case": uuid.uuid4().hex[:8]}
    if scenario:
        meta["longhaul_sim"] = scenario
    kw.setdefault("input", "Summarise the history of the longhaul trucking industry.")
    return client.responses.create(model="gpt-5.5", background=True, metadata=meta, **kw)


def test_sdk_create_and_retrieve_returns_upstream_output(
    client: openai.OpenAI, stack: Stack, api_key: str, simulator: Any
) -> None:
    created = create(client)
    assert created.status == "queued"
    assert created.id.startswith("resp_lh_")
    done = wait_done(client, created.id)
    assert done.status == "completed"
    assert done.id == created.id
    view = job(stack, api_key, created.id)
    upstream = openai.OpenAI(base_url=simulator.url, api_key="sk-x").responses.retrieve(
        view["upstream_response_id"]
    )
    assert done.output_text == upstream.output_text
    assert "longhaul trucking" in done.output_text
    assert view["output_text"] == upstream.output_text
    assert upstream.metadata["longhaul_job_id"] == created.id
    assert [h["status"] for h in view["state_history"]] == [
        "queued",
        "submitting",
        "in_progress",
        "finalizing",
        "completed",
    ]
    assert view["usage"]["output_tokens"] == upstream.usage.output_tokens


def test_cancel_queued_job_never_reaches_upstream(
    client: openai.OpenAI, stack: Stack, api_key: str
) -> None:
    created = create(client, "create429:1000")  # stays queued in Longhaul, retrying

    def queued_after_a_failed_attempt() -> bool:
        # ``submit_attempts`` counts from the claim, so an attempt in flight (``submitting``)
        # counts too: wait until one has failed and the job is back in the queue, late enough
        # that its backoff (0.2 s doubling) leaves more than a second before the next claim.
        view = job(stack, api_key, created.id)
        return view["status"] == "queued" and view["submit_attempts"] >= 4

    wait_for(queued_after_a_failed_attempt, 15, interval=0.05)
    cancelled = client.responses.cancel(created.id)
    assert cancelled.status == "cancelled"
    done = wait_done(client, created.id)
    assert done.status == "cancelled"
    view = job(stack, api_key, created.id)
    assert view["upstream_response_id"] is None


def test_cancel_running_job_cancels_upstream(
    client: openai.OpenAI, stack: Stack, api_key: str, simulator: Any
) -> None:
    created = create(client, "slow:60")
    wait_for(lambda: job(stack, api_key, created.id)["status"] == "in_progress", 15)
    client.responses.cancel(created.id)
    done = wait_done(client, created.id)
    assert done.status == "cancelled"
    upstream_id = job(stack, api_key, created.id)["upstream_response_id"]
    assert sim_response(simulator, upstream_id)["status"] == "cancelled"


@pytest.mark.parametrize(("scenario", "status"), [("fail", "failed"), ("incomplete", "incomplete")])
def test_failed_and_incomplete(client: openai.OpenAI, scenario: str, status: str) -> None:
    done = wait_done(client, create(client, scenario).id)
    assert done.status == status
    if status == "failed":
        assert done.error is not None and done.error.code == "server_error"
    else:
        assert done.incomplete_details is not None
        assert done.incomplete_details.reason == "max_output_tokens"


def test_rate_limited_create_is_retried_then_succeeds(
    client: openai.OpenAI, stack: Stack, api_key: str
) -> None:
    created = create(client, "create429:2")
    assert wait_done(client, created.id).status == "completed"
    view = job(stack, api_key, created.id)
    assert view["submit_attempts"] == 3
    assert view["possibly_duplicated"] is False
    assert [h.get("reason") for h in view["state_history"]].count("rate_limit_exceeded") == 2


def test_permanent_upstream_error_fails_with_error_kept(client: openai.OpenAI) -> None:
    done = wait_done(client, create(client, "bad_request").id)
    assert done.status == "failed"
    assert done.error is not None and done.error.message


def test_dropped_create_is_flagged_possibly_duplicated(
    client: openai.OpenAI, stack: Stack, api_key: str
) -> None:
    created = create(client, "createdup:1")
    assert wait_done(client, created.id).status == "completed"
    view = job(stack, api_key, created.id)
    assert view["possibly_duplicated"] is True
    assert view["submit_attempts"] == 2


class Receiver:
    """A loopback webhook receiver keeping every event body it gets."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        events = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                events.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def event_for(self, job_id: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e["data"]["id"] == job_id), None)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("create429:1", "rate_limit_exceeded"),
        ("create500:1", "server_error"),  # the simulator's 500 has no code, only a type
        ("createdrop:1", "connection_error"),
    ],
)
def test_a_transient_submit_error_does_not_stick_to_a_job_that_completes(
    client: openai.OpenAI,
    stack: Stack,
    api_key: str,
    receiver: Receiver,
    scenario: str,
    reason: str,
) -> None:
    created = create(client, scenario, extra_body={"webhook": {"url": receiver.url}})
    assert wait_done(client, created.id).status == "completed"
    view = job(stack, api_key, created.id)
    assert view["error"] is None
    # The failed attempt stays in the history, with its reason and its error.
    requeued = [h for h in view["state_history"] if h.get("reason")]
    assert [(h["status"], h["reason"]) for h in requeued] == [("queued", reason)]
    assert requeued[0]["error"]["message"]
    assert "None" not in [h.get("reason") for h in view["state_history"]]
    event = wait_for(lambda: receiver.event_for(created.id), 30, what="the webhook")
    assert event["type"] == "response.completed"
    assert event["data"]["error"] is None


def test_a_job_failing_upstream_after_a_retried_submit_reports_the_upstreams_error(
    client: openai.OpenAI, stack: Stack, api_key: str, receiver: Receiver
) -> None:
    created = create(client, "create429:1,fail", extra_body={"webhook": {"url": receiver.url}})
    done = wait_done(client, created.id)
    assert done.status == "failed"
    assert done.error is not None and done.error.code == "server_error"
    view = job(stack, api_key, created.id)
    assert view["error"]["code"] == "server_error"
    assert [h.get("reason") for h in view["state_history"]].count("rate_limit_exceeded") == 1
    event = wait_for(lambda: receiver.event_for(created.id), 30, what="the webhook")
    assert event["type"] == "response.failed"
    assert event["data"]["error"]["code"] == "server_error"


def test_poll_errors_are_retried(client: openai.OpenAI) -> None:
    assert wait_done(client, create(client, "poll500:2").id).status == "completed"


def test_deadline_cancels_upstream_and_fails(
    client: openai.OpenAI, stack: Stack, api_key: str, simulator: Any
) -> None:
    created = create(client, "slow:60", extra_body={"longhaul": {"deadline_seconds": 2}})
    done = wait_done(client, created.id)
    assert done.status == "failed"
    # OpenAI's Response.error.code enum has no deadline: the nearest allowed code there, and
    # Longhaul's own code in its extension and in the job view
    assert done.error is not None and done.error.code == "server_error"
    assert "deadline" in done.error.message
    assert (done.model_extra or {})["longhaul"]["error"]["code"] == "deadline_exceeded"
    assert job(stack, api_key, created.id)["error"]["code"] == "deadline_exceeded"
    upstream_id = job(stack, api_key, created.id)["upstream_response_id"]
    assert sim_response(simulator, upstream_id)["status"] == "cancelled"


def test_idempotency_key(client: openai.OpenAI) -> None:
    key = uuid.uuid4().hex
    body = {"model": "gpt-5.5", "input": "same", "background": True}
    first = client.responses.create(**body, extra_headers={"Idempotency-Key": key})
    second = client.responses.create(**body, extra_headers={"Idempotency-Key": key})
    assert first.id == second.id
    with pytest.raises(openai.ConflictError) as info:
        client.responses.create(
            **{**body, "input": "other"}, extra_headers={"Idempotency-Key": key}
        )
    assert info.value.code == "idempotency_key_reused"


def test_previous_response_id_is_mapped_to_upstream(
    client: openai.OpenAI, stack: Stack, api_key: str, simulator: Any
) -> None:
    first = create(client, "slow:2")
    with pytest.raises(openai.BadRequestError) as info:
        create(client, previous_response_id=first.id)
    assert info.value.code == "previous_response_not_completed"
    wait_done(client, first.id)
    second = create(client, previous_response_id=first.id)
    done = wait_done(client, second.id)
    assert done.status == "completed"
    assert done.previous_response_id == first.id
    up_first = job(stack, api_key, first.id)["upstream_response_id"]
    up_second = job(stack, api_key, second.id)["upstream_response_id"]
    assert sim_response(simulator, up_second)["request"]["previous_response_id"] == up_first


def test_unknown_fields_pass_through(
    client: openai.OpenAI, stack: Stack, api_key: str, simulator: Any
) -> None:
    created = create(client, extra_body={"some_future_field": {"nested": [1, 2]}})
    wait_done(client, created.id)
    upstream_id = job(stack, api_key, created.id)["upstream_response_id"]
    assert sim_response(simulator, upstream_id)["request"]["some_future_field"] == {
        "nested": [1, 2]
    }


def test_other_tenant_gets_404(client: openai.OpenAI, stack: Stack, database_url: str) -> None:
    from longhaul.core.auth import create_api_key
    from longhaul.core.db import session_scope

    created = create(client)
    with session_scope(database_url) as session:
        other_key = create_api_key(session, tenant_name=f"other-{uuid.uuid4().hex[:6]}")
    other = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=other_key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.cancel(created.id)
    r = httpx.get(
        f"{stack.api_url}/v1/jobs/{created.id}", headers={"Authorization": f"Bearer {other_key}"}
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_input_items_and_delete(client: openai.OpenAI, stack: Stack, api_key: str) -> None:
    created = create(client, input="what is a longhaul?")
    wait_done(client, created.id)
    items = client.responses.input_items.list(created.id)
    texts = [c.text for item in items.data for c in item.content]  # type: ignore[union-attr]
    assert "what is a longhaul?" in texts
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_list_jobs_paginates_with_cursor(client: openai.OpenAI, stack: Stack, api_key: str) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = [
        client.responses.create(
            model="gpt-5.5", input="x", background=True, metadata={"batch": tag}
        ).id
        for _ in range(5)
    ]
    headers = {"Authorization": f"Bearer {api_key}"}
    seen: list[str] = []
    after = None
    while True:
        params = {"limit": 2, "metadata[batch]": tag, **({"after": after} if after else {})}
        page = httpx.get(f"{stack.api_url}/v1/jobs", params=params, headers=headers).json()
        seen += [j["id"] for j in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == list(reversed(ids))


def test_metrics_and_readiness(stack: Stack) -> None:
    r = httpx.get(f"{stack.api_url}/readyz")
    checks = r.json()["checks"]
    assert r.status_code == 200 and checks == {"database": "ok", "redis": "ok", "storage": "ok"}
    text = httpx.get(f"{stack.api_url}/metrics").text
    assert 'longhaul_jobs{status="completed"}' in text
    assert 'longhaul_queue_depth{queue="poll"}' in text


def test_many_concurrent_creates_all_succeed(client: openai.OpenAI) -> None:
    """More simultaneous requests than database connections: requests wait, none fails (a
    blocking call on the event loop once turned this into pool timeouts and 500s)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> str:
        return client.responses.create(model="gpt-5.5", input=f"burst {i}", background=True).id

    with ThreadPoolExecutor(48) as pool:
        ids = list(pool.map(one, range(96)))
    assert len(set(ids)) == 96
    assert all(i.startswith("resp_lh_") for i in ids)


def test_budget_holds_refuse_before_upstream_and_spend_stays_within(
    stack: Stack, database_url: str
) -> None:
    from decimal import Decimal

    from longhaul.core.auth import create_api_key
    from longhaul.core.costs.budgets import set_budget
    from longhaul.core.db import session_scope

    name = f"budget-{uuid.uuid4().hex[:6]}"
    with session_scope(database_url) as session:
        key = create_api_key(session, tenant_name=name)
        set_budget(session, tenant_name=name, usd=Decimal("1"))
    capped = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=key, max_retries=0)
    # gpt-5.5 with max_output_tokens 6,000: each may cost 6,000 * $30/M = 0.18 + its input
    running = [create(capped, "slow:2", max_output_tokens=6_000) for _ in range(5)]
    holds = [Decimal(job(stack, key, r.id)["budget_hold"]["amount_usd"]) for r in running]
    assert all(Decimal("0.18") < h < Decimal("0.19") for h in holds) and sum(holds) <= 1
    with pytest.raises(openai.APIStatusError) as info:
        create(capped, max_output_tokens=6_000)  # the 6th hold does not fit what is left
    assert info.value.status_code == 402
    assert info.value.code == "budget_exceeded"
    assert "held by running jobs" in info.value.message
    listed = httpx.get(f"{stack.api_url}/v1/jobs", headers={"Authorization": f"Bearer {key}"})
    assert len(listed.json()["data"]) == 5  # refused before it was stored or sent upstream

    done = [wait_done(capped, r.id, timeout=120) for r in running]
    assert all(d.status == "completed" for d in done)
    views = [job(stack, key, r.id) for r in running]
    spent = sum((Decimal(v["cost"]["total"]) for v in views), Decimal(0))
    assert spent <= sum(holds) <= 1  # never above the budget: each cost within its hold
    assert all(Decimal(v["cost"]["total"]) <= h for v, h in zip(views, holds, strict=True))
    assert all(v["budget_hold"]["status"] == "released" for v in views)
    assert Decimal(views[-1]["tenant_month_spend_usd"]) == spent
    again = create(capped, max_output_tokens=6_000)  # holds released: fits again
    assert wait_done(capped, again.id, timeout=120).status == "completed"

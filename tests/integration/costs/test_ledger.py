"""write_ledger against real PostgreSQL: once-only lines, summaries, a simulator response."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import openai
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from longhaul.core.costs.ledger import cost_summary, ledger_lines, write_ledger
from longhaul.core.db import session_factory
from longhaul.core.models import Job
from longhaul.core.models.costs import LedgerLine
from longhaul.simulator import start_simulator

NOV = datetime(2026, 11, 2, 12, tzinfo=UTC)

RESPONSE: dict[str, Any] = {
    "id": "resp_x",
    "model": "gpt-5",
    "service_tier": "default",
    "status": "completed",
    "usage": {
        "input_tokens": 20_000,
        "input_tokens_details": {"cached_tokens": 12_800, "cache_write_tokens": 0},
        "output_tokens": 5_000,
        "output_tokens_details": {"reasoning_tokens": 4_096},
        "total_tokens": 25_000,
    },
    "tool_usage": {"web_search": {"num_requests": 3}},
    "output": [
        {"type": "web_search_call", "id": "ws_1", "action": {"type": "search"}},
        {"type": "code_interpreter_call", "id": "ci_1", "container_id": "cntr_a", "code": "1"},
    ],
}
REQUEST = {
    "model": "gpt-5",
    "tools": [
        {"type": "web_search"},
        {"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "4g"}},
    ],
}


def test_write_ledger_twice_leaves_one_set_of_lines(
    session: Session, make_job: Callable[..., Job], database_url: str
) -> None:
    job = make_job(request=REQUEST, created_at=NOV, completion_window="2h")
    write_ledger(session, job, RESPONSE)
    session.commit()
    first = [(line.item, line.amount) for line in ledger_lines(session, job.id)]
    # gpt-5 standard * 0.70 (2h): input 7,200 * 0.875/M, cached 12,800 * 0.0875/M,
    # output 5,000 * 7/M; web search 3 * $10/1k; container 5 min * $0.006 (4 GB)
    assert dict(first) == {
        "tokens:input_tokens": D("0.006300"),
        "tokens:cache_read_tokens": D("0.001120"),
        "tokens:output_tokens": D("0.035000"),
        "tool:web_search:calls": D("0.030000"),
        "container:cntr_a": D("0.030000"),
    }

    # finalize again, from another session and with a response that would price differently
    changed = copy.deepcopy(RESPONSE)
    changed["usage"]["output_tokens"] = 9_999
    changed["tool_usage"]["web_search"]["num_requests"] = 7
    changed["output"].append(
        {"type": "code_interpreter_call", "id": "ci_2", "container_id": "cntr_b", "code": "2"}
    )
    with session_factory(database_url)() as other:
        write_ledger(other, other.get(Job, job.id), changed)
        other.commit()
    write_ledger(session, job, RESPONSE)
    session.commit()
    count = session.execute(
        select(func.count()).select_from(LedgerLine).where(LedgerLine.job_id == job.id)
    ).scalar_one()
    assert count == 5
    session.expire_all()
    assert [(line.item, line.amount) for line in ledger_lines(session, job.id)] == first

    summary = cost_summary(session, job)
    assert summary is not None
    assert summary["total"] == "0.102420"  # 0.0063 + 0.00112 + 0.035 + 0.03 + 0.03
    assert summary["currency"] == "USD" and summary["complete"] is True
    assert summary["by_tool"] == {"web_search": "0.030000", "code_interpreter": "0.030000"}
    assert summary["by_kind"]["output_tokens"] == "0.035000"
    assert summary["completion_window"] == "2h"
    line = next(x for x in summary["lines"] if x["item"] == "tokens:input_tokens")
    assert line == {
        "item": "tokens:input_tokens",
        "kind": "input_tokens",
        "tool": None,
        "quantity": "7200",
        "unit": "token",
        "unit_price": "0.875",
        "per": 1_000_000,
        "amount": "0.006300",
        "status": "priced",
        "unpriced_reason": None,
        "fallback": None,
        "price_source": "genai-prices 0.2.3: openai/gpt-5 service_tier=default",
        "effective_from": None,
    }


def test_summary_is_none_before_finalize_and_flags_unpriced(
    session: Session, make_job: Callable[..., Job]
) -> None:
    job = make_job(model="acme-llm-9", created_at=NOV)
    assert cost_summary(session, job) is None
    write_ledger(session, job, {**RESPONSE, "model": "acme-llm-9", "output": [], "tool_usage": {}})
    session.commit()
    summary = cost_summary(session, job)
    assert summary is not None
    assert summary["complete"] is False
    assert summary["total"] == "0.000000"
    assert {u["item"] for u in summary["unpriced"]} == {
        "tokens:input_tokens",
        "tokens:cache_read_tokens",
        "tokens:output_tokens",
    }
    rows = ledger_lines(session, job.id)
    assert all(r.status == "unpriced" and r.amount is None for r in rows)


def _wait(client: openai.OpenAI, response_id: str) -> Any:
    for _ in range(200):
        response = client.responses.retrieve(response_id)
        if response.status in ("completed", "failed", "cancelled", "incomplete"):
            return response
        time.sleep(0.05)
    raise AssertionError("simulated response did not finish")


def test_simulator_response_priced_end_to_end(
    session: Session, make_job: Callable[..., Job]
) -> None:
    request = {
        "model": "gpt-5.5",
        "input": "Chart the population of Lyon since 1900",
        "background": True,
        "tools": [
            {"type": "web_search"},
            {"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "16g"}},
            {"type": "image_generation", "model": "gpt-image-1", "quality": "low"},
        ],
    }
    with start_simulator(queued_seconds=0.02, run_seconds=0.05) as sim:
        client = openai.OpenAI(base_url=sim.url, api_key="sk-test", max_retries=0)
        created = client.responses.create(**request)
        done = _wait(client, created.id)
    assert done.status == "completed"
    response = done.model_dump(mode="json")
    job = make_job(model="gpt-5.5", request=request)  # requested now: current prices
    write_ledger(session, job, response)
    session.commit()
    lines = {line.item: line for line in ledger_lines(session, job.id)}

    u = response["usage"]
    cached = u["input_tokens_details"]["cached_tokens"]
    # gpt-5.5 standard below 272K input: input $5/M, cached $0.50/M, output $30/M
    expected_tokens = (
        D(u["input_tokens"] - cached) * 5 / 1_000_000
        + D(cached) * D("0.5") / 1_000_000
        + D(u["output_tokens"]) * 30 / 1_000_000
    )
    token_amount = sum(
        (line.amount for item, line in lines.items() if item.startswith("tokens:")), D(0)
    )
    assert abs(token_amount - expected_tokens) <= D("0.000002")  # per-line rounding only
    searches = response["tool_usage"]["web_search"]["num_requests"]
    assert searches >= 1
    assert lines["tool:web_search:calls"].amount == D(searches) * 10 / 1000
    (container,) = [x for x in lines.values() if x.kind == "container"]
    assert (container.quantity, container.unit_price, container.amount) == (
        D(5),
        D("0.024"),
        D("0.120000"),
    )
    image_out = response["tool_usage"]["image_gen"]["output_tokens"]
    image_in = response["tool_usage"]["image_gen"]["input_tokens"]
    assert lines["tool:image_generation:tokens:output_tokens"].amount == (
        D(image_out) * 40 / 1_000_000
    ).quantize(D("0.000001"))
    assert lines["tool:image_generation:tokens:input_tokens"].amount == (
        D(image_in) * 5 / 1_000_000
    ).quantize(D("0.000001"))
    assert all(line.status == "priced" for line in lines.values())
    summary = cost_summary(session, job)
    assert summary is not None
    assert D(summary["total"]) == sum((line.amount for line in lines.values()), D(0))
    assert set(summary["by_tool"]) == {"web_search", "code_interpreter", "image_generation"}


def test_concurrent_finalizers_write_one_ledger(
    session: Session, make_job: Callable[..., Job], database_url: str
) -> None:
    import threading

    job = make_job(request=REQUEST, created_at=NOV)
    other_response = copy.deepcopy(RESPONSE)
    other_response["output"].append(
        {"type": "code_interpreter_call", "id": "ci_9", "container_id": "cntr_z", "code": "9"}
    )
    factory = session_factory(database_url)
    first = factory()
    write_ledger(first, first.get(Job, job.id), RESPONSE)  # holds the job row lock, uncommitted
    done = threading.Event()

    def second() -> None:
        with factory() as s:
            write_ledger(s, s.get(Job, job.id), other_response)
            s.commit()
        done.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not done.wait(0.5)  # blocked behind the first finalizer
    first.commit()
    first.close()
    thread.join(timeout=10)
    assert done.is_set()
    items = {line.item for line in ledger_lines(session, job.id)}
    assert "container:cntr_z" not in items and "container:cntr_a" in items

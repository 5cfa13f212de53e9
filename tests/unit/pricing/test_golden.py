"""Golden cases: each ledger equals the arithmetic written next to it, to the 1e-6 USD.

Token rates are genai-prices 0.2.3's (docs/costs.md), tool fees Longhaul's table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from longhaul.core.pricing import PricedResponse, load_price_book, price_response

NOV = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # tier prices modelled from 2026-10-12
BOOK = load_price_book()


def usage(inp: int, out: int, *, cached: int = 0, write: int = 0, reasoning: int = 0) -> dict:
    return {
        "input_tokens": inp,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": write},
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": inp + out,
    }


def price(
    response: dict, request: dict | None = None, *, at: datetime = NOV, window=None, book=BOOK
) -> PricedResponse:
    return price_response(
        response, request=request or {}, requested_at=at, completion_window=window, book=book
    )


def amounts(priced: PricedResponse) -> dict[str, Any]:
    return {line.item: line.amount for line in priced.lines}


def total(priced: PricedResponse) -> D:
    return sum((line.amount for line in priced.lines if line.amount is not None), D(0))


# ---------------------------------------------------------------- tokens, per tier


def test_token_only_default_tier() -> None:
    p = price({"model": "gpt-5", "service_tier": "default", "usage": usage(12_000, 3_000)})
    # gpt-5 standard: input $1.25/M, output $10/M
    assert amounts(p) == {
        "tokens:input_tokens": D("0.015000"),  # 12,000 * 1.25 / 1,000,000
        "tokens:output_tokens": D("0.030000"),  # 3,000 * 10 / 1,000,000
    }
    assert total(p) == D("0.045")
    assert p.service_tier == "default"


def test_token_only_flex_tier() -> None:
    p = price({"model": "gpt-5", "service_tier": "flex", "usage": usage(12_000, 3_000)})
    # gpt-5 flex (from 2026-10-12): input $0.625/M, output $5/M
    assert amounts(p) == {
        "tokens:input_tokens": D("0.007500"),  # 12,000 * 0.625 / 1,000,000
        "tokens:output_tokens": D("0.015000"),  # 3,000 * 5 / 1,000,000
    }
    assert total(p) == D("0.0225")
    assert all(line.effective_from.isoformat() == "2026-10-12" for line in p.lines)


@pytest.mark.parametrize("reported", ["priority", "fast"])
def test_token_only_priority_and_fast(reported: str) -> None:
    p = price({"model": "gpt-5", "service_tier": reported, "usage": usage(12_000, 3_000)})
    # gpt-5 priority = fast: input $2.50/M, output $20/M
    assert amounts(p) == {
        "tokens:input_tokens": D("0.030000"),  # 12,000 * 2.5 / 1,000,000
        "tokens:output_tokens": D("0.060000"),  # 3,000 * 20 / 1,000,000
    }
    assert total(p) == D("0.09")
    assert p.service_tier == "priority"


def test_tier_not_modelled_before_genai_dates_is_flagged() -> None:
    p = price(
        {"model": "gpt-5", "service_tier": "flex", "usage": usage(12_000, 3_000)},
        at=datetime(2026, 9, 1, tzinfo=UTC),
    )
    # genai-prices has no flex rate before 2026-10-12: standard price, flagged, never silent
    assert total(p) == D("0.045")  # 12,000 * 1.25/M + 3,000 * 10/M
    assert "not modelled" in p.notes[0]
    assert all("tier not modelled" in line.price_source for line in p.lines)


# ---------------------------------------------------------------- cached + reasoning


def test_cached_and_reasoning_tokens() -> None:
    u = usage(20_000, 5_000, cached=12_800, write=7_200, reasoning=4_096)
    p = price({"model": "gpt-5", "service_tier": "default", "usage": u})
    # input 20,000 = 12,800 cached + 7,200 uncached (the cache writes: gpt-5 has no separate
    # cache-write price, so they are plain input). Reasoning 4,096 is inside output 5,000 and
    # priced at the output rate.
    assert amounts(p) == {
        "tokens:input_tokens": D("0.009000"),  # 7,200 * 1.25 / 1M
        "tokens:cache_read_tokens": D("0.001600"),  # 12,800 * 0.125 / 1M
        "tokens:output_tokens": D("0.050000"),  # 5,000 * 10 / 1M
    }
    assert total(p) == D("0.0606")
    kinds = {line.item: line.kind for line in p.lines}
    assert kinds["tokens:cache_read_tokens"] == "cached_input_tokens"


def test_rounding_is_half_up_to_a_millionth() -> None:
    p = price({"model": "gpt-5", "usage": usage(1_234, 0)})
    # 1,234 * 1.25 / 1M = 0.0015425 → 0.001543
    assert amounts(p) == {"tokens:input_tokens": D("0.001543")}


# ---------------------------------------------------------------- web search


def _searches(n: int) -> dict:
    return {"tool_usage": {"web_search": {"num_requests": n}}, "output": []}


@pytest.mark.parametrize(
    ("model", "tool", "expected", "arithmetic"),
    [
        ("gpt-4.1", "web_search", D("0.030000"), "3 * $10 / 1,000 (GA, any model)"),
        ("o3", "web_search", D("0.030000"), "3 * $10 / 1,000 (GA, any model)"),
        (
            "gpt-4.1",
            "web_search_preview",
            D("0.075000"),
            "3 * $25 / 1,000 (preview, non-reasoning)",
        ),
        ("o3", "web_search_preview", D("0.030000"), "3 * $10 / 1,000 (preview, reasoning)"),
    ],
)
def test_web_search_ga_vs_preview(model: str, tool: str, expected: D, arithmetic: str) -> None:
    p = price({"model": model, **_searches(3)}, {"tools": [{"type": tool}]})
    assert amounts(p) == {f"tool:{tool}:calls": expected}, arithmetic
    (line,) = p.lines
    assert (line.quantity, line.unit, line.tool) == (D(3), "call", tool)


def test_web_search_counted_from_items_without_tool_usage() -> None:
    output = [
        {"type": "web_search_call", "action": {"type": "search", "query": "a"}},
        {"type": "web_search_call", "action": {"type": "open_page", "url": "https://x"}},
        {"type": "web_search_call", "action": {"type": "search", "query": "b"}},
    ]
    p = price({"model": "gpt-5", "output": output}, {"tools": [{"type": "web_search"}]})
    # 2 searches (the open_page action is not a billable search) * $10 / 1,000
    assert amounts(p) == {"tool:web_search:calls": D("0.020000")}


# ---------------------------------------------------------------- file search


def test_file_search_per_call() -> None:
    output = [{"type": "file_search_call", "id": f"fs_{i}", "queries": ["q"]} for i in range(4)]
    p = price({"model": "gpt-5", "output": output}, {"tools": [{"type": "file_search"}]})
    # 4 calls * $2.50 / 1,000 (charged per call, not once per response)
    assert amounts(p) == {"tool:file_search:calls": D("0.010000")}


# ---------------------------------------------------------------- containers


def _ci(memory: str | None) -> dict:
    container: Any = (
        {"type": "auto"} if memory is None else {"type": "auto", "memory_limit": memory}
    )
    return {"tools": [{"type": "code_interpreter", "container": container}]}


CI_OUTPUT = {
    "model": "gpt-5",
    "output": [
        {"type": "code_interpreter_call", "id": "ci_1", "container_id": "cntr_a", "code": "1"},
        {"type": "code_interpreter_call", "id": "ci_2", "container_id": "cntr_a", "code": "2"},
    ],
}


def test_container_per_container_era_two_tiers() -> None:
    jan = datetime(2026, 1, 15, tzinfo=UTC)  # until 2026-03-30: a flat fee per container
    p4 = price(CI_OUTPUT, _ci("4g"), at=jan)
    assert amounts(p4) == {"container:cntr_a": D("0.120000")}  # 1 container * $0.12 (4 GB)
    p1 = price(CI_OUTPUT, _ci(None), at=jan)
    assert amounts(p1) == {"container:cntr_a": D("0.030000")}  # 1 container * $0.03 (1 GB default)
    assert p4.lines[0].unit == "container"


def test_container_per_minute_era_two_tiers() -> None:
    # from 2026-06-02: by the minute with a 5-minute minimum; no duration reported → minimum
    p16 = price(CI_OUTPUT, _ci("16g"), at=NOV)
    assert amounts(p16) == {"container:cntr_a": D("0.120000")}  # 5 min * $0.024 (16 GB)
    p1 = price(CI_OUTPUT, _ci("1g"), at=NOV)
    assert amounts(p1) == {"container:cntr_a": D("0.007500")}  # 5 min * $0.0015 (1 GB)
    assert (p16.lines[0].quantity, p16.lines[0].unit) == (D(5), "minute")


def test_container_session_era_and_hosted_shell() -> None:
    may = datetime(2026, 5, 1, tzinfo=UTC)  # 2026-03-31..06-01: per 20-minute session
    response = {
        "model": "gpt-5",
        "output": [
            {
                "type": "shell_call",
                "call_id": "c1",
                "action": {"commands": ["ls"]},
                "environment": {"type": "container_reference", "container_id": "cntr_s"},
            },
            {
                "type": "shell_call",
                "call_id": "c2",
                "action": {"commands": ["ls"]},
                "environment": {"type": "local"},
            },
        ],
    }
    request = {
        "tools": [
            {"type": "shell", "environment": {"type": "container_auto", "memory_limit": "64g"}}
        ]
    }
    p = price(response, request, at=may)
    assert amounts(p) == {"container:cntr_s": D("1.920000")}  # 1 session * $1.92 (64 GB)
    assert p.lines[0].tool == "shell"


# ---------------------------------------------------------------- image generation


def test_image_generation_by_tool_usage_tokens() -> None:
    response = {
        "model": "gpt-5",
        "output": [
            {
                "type": "image_generation_call",
                "id": "ig_1",
                "status": "completed",
                "quality": "high",
                "size": "1024x1024",
            }
        ],
        "tool_usage": {
            "image_gen": {
                "input_tokens": 1_050,
                "input_tokens_details": {"text_tokens": 50, "image_tokens": 1_000},
                "output_tokens": 4_160,
                "output_tokens_details": {"image_tokens": 4_160, "text_tokens": 0},
                "total_tokens": 5_210,
            }
        },
    }
    p = price(response, {"tools": [{"type": "image_generation", "model": "gpt-image-1"}]})
    # gpt-image-1: text in $5/M, image in $10/M, output $40/M
    assert amounts(p) == {
        "tool:image_generation:tokens:input_tokens": D("0.000250"),  # 50 text * 5 / 1M
        "tool:image_generation:tokens:input_image_tokens": D("0.010000"),  # 1,000 * 10 / 1M
        "tool:image_generation:tokens:output_tokens": D("0.166400"),  # 4,160 * 40 / 1M
    }
    assert total(p) == D("0.17665")
    assert {line.tool for line in p.lines} == {"image_generation"}


def test_image_generation_per_image_fallback() -> None:
    response = {
        "model": "gpt-5",
        "output": [
            {
                "type": "image_generation_call",
                "id": "ig_1",
                "status": "completed",
                "quality": "high",
                "size": "1024x1536",
            },
            {
                "type": "image_generation_call",
                "id": "ig_2",
                "status": "completed",
                "quality": "medium",
                "size": "1024x1024",
            },
            {"type": "image_generation_call", "id": "ig_3", "status": "failed"},
        ],
    }
    p = price(response, {"tools": [{"type": "image_generation", "model": "gpt-image-1"}]})
    assert amounts(p) == {
        "image:ig_1": D("0.250000"),  # gpt-image-1 high 1024*1536
        "image:ig_2": D("0.042000"),  # gpt-image-1 medium 1024*1024
    }  # the failed call is not billed
    assert total(p) == D("0.292")
    mini = price(response, {"tools": [{"type": "image_generation", "model": "gpt-image-1-mini"}]})
    assert amounts(mini) == {"image:ig_1": D("0.052000"), "image:ig_2": D("0.011000")}


# ---------------------------------------------------------------- completion windows


def test_completion_window_2h() -> None:
    response = {
        "model": "gpt-5",
        "service_tier": "default",
        "usage": usage(12_000, 3_000),
        **_searches(1),
    }
    p = price(response, {"tools": [{"type": "web_search"}]}, window="2h")
    # 30% off the model's token prices; tool fees are not discounted
    assert amounts(p) == {
        "tokens:input_tokens": D("0.010500"),  # 12,000 * (1.25 * 0.70 = 0.875) / 1M
        "tokens:output_tokens": D("0.021000"),  # 3,000 * (10 * 0.70 = 7) / 1M
        "tool:web_search:calls": D("0.010000"),  # 1 * $10 / 1,000
    }
    assert p.completion_window == "2h"
    assert p.lines[0].details["list_unit_price"] == "1.25"


def test_completion_window_8h() -> None:
    p = price({"model": "gpt-5", "usage": usage(12_000, 3_000)}, window="8h")
    assert amounts(p) == {
        "tokens:input_tokens": D("0.009000"),  # 12,000 * (1.25 * 0.60 = 0.75) / 1M
        "tokens:output_tokens": D("0.018000"),  # 3,000 * (10 * 0.60 = 6) / 1M
    }


def test_completion_window_not_applied_off_standard_tier() -> None:
    p = price(
        {"model": "gpt-5", "service_tier": "flex", "usage": usage(12_000, 3_000)}, window="8h"
    )
    assert total(p) == D("0.0225")  # flex prices, no window discount on top
    assert "not applied" in p.notes[0]


# ---------------------------------------------------------------- unknown model


def test_unknown_model_is_unpriced_never_zero() -> None:
    response = {"model": "acme-llm-9", "usage": usage(12_000, 3_000, cached=2_000), **_searches(2)}
    p = price(response, {"tools": [{"type": "web_search"}]})
    tokens = [line for line in p.lines if line.item.startswith("tokens:")]
    assert [(t.item, t.quantity, t.amount) for t in tokens] == [
        ("tokens:input_tokens", D(10_000), None),
        ("tokens:cache_read_tokens", D(2_000), None),
        ("tokens:output_tokens", D(3_000), None),
    ]
    assert all("acme-llm-9" in t.unpriced_reason for t in tokens)
    # the GA web-search fee does not depend on the model: 2 * $10 / 1,000
    assert amounts(p)["tool:web_search:calls"] == D("0.020000")


def test_overrides_file_prices_unknown_model_and_replaces_fees(tmp_path: Path) -> None:
    overrides = tmp_path / "prices.toml"
    overrides.write_text(
        '[models."acme-llm-9"]\ninput_mtok = "2"\noutput_mtok = "8"\nsource = "contract"\n'
        '[[fees]]\ntool = "web_search"\nkey = "*"\nunit = "call"\nprice = "8.00"\nper = 1000\n'
        'effective_from = "2026-01-01"\nsource = "negotiated"\n'
    )
    book = load_price_book(overrides)
    response = {"model": "acme-llm-9", "usage": usage(12_000, 3_000), **_searches(2)}
    p = price(response, {"tools": [{"type": "web_search"}]}, book=book)
    assert amounts(p) == {
        "tokens:input_tokens": D("0.024000"),  # 12,000 * 2 / 1M
        "tokens:output_tokens": D("0.024000"),  # 3,000 * 8 / 1M
        "tool:web_search:calls": D("0.016000"),  # 2 * $8 / 1,000 (override wins)
    }
    assert p.lines[0].price_source.startswith(f"override {overrides}")


# ---------------------------------------------------------------- issue 17: items 1-4


def _image_call(item_id: str = "ig_1") -> dict:
    return {"type": "image_generation_call", "id": item_id, "status": "completed"}


def test_image_tokens_without_output_details_are_image_tokens() -> None:
    response = {
        "model": "gpt-5",
        "output": [_image_call()],
        "tool_usage": {
            "image_gen": {  # output_tokens_details is optional in the SDK: absent here
                "input_tokens": 50,
                "input_tokens_details": {"text_tokens": 50, "image_tokens": 0},
                "output_tokens": 4_160,
                "total_tokens": 4_210,
            }
        },
    }
    p = price(response, {"tools": [{"type": "image_generation", "model": "gpt-image-1.5"}]})
    # gpt-image-1.5: text in $5/M, image out $32/M (its text-output rate, $10/M, was used before:
    # 4,160 * 10 / 1M = 0.041600)
    assert amounts(p) == {
        "tool:image_generation:tokens:input_tokens": D("0.000250"),  # 50 * 5 / 1M
        "tool:image_generation:tokens:output_image_tokens": D("0.133120"),  # 4,160 * 32 / 1M
    }
    assert total(p) == D("0.13337")


def test_tools_from_response_tools_when_request_has_none() -> None:
    # A stored prompt brings the tools: the request body names none, Response.tools has them.
    response = {
        "model": "gpt-4o",
        "tools": [
            {"type": "web_search_preview"},
            {"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "64g"}},
        ],
        "tool_usage": {"web_search": {"num_requests": 2}},
        "output": [
            {"type": "code_interpreter_call", "id": "ci_1", "container_id": "cntr_p", "code": "1"}
        ],
    }
    p = price(response, {"model": "gpt-4o", "prompt": {"id": "pmpt_1"}})
    # before: GA web search 2 * $10 / 1,000 = 0.020000 and the 1g tier 5 * $0.0015 = 0.007500
    assert amounts(p) == {
        "tool:web_search_preview:calls": D("0.050000"),  # 2 * $25 / 1,000 (non-reasoning)
        "container:cntr_p": D("0.480000"),  # 5 min * $0.096 (64 GB)
    }


def test_default_image_model_sunburst_is_priced() -> None:
    response = {
        "model": "gpt-5",
        "output": [_image_call()],
        "tool_usage": {
            "image_gen": {
                "input_tokens": 1_050,
                "input_tokens_details": {"text_tokens": 50, "image_tokens": 1_000},
                "output_tokens": 4_160,
                "output_tokens_details": {"image_tokens": 4_160, "text_tokens": 0},
                "total_tokens": 5_210,
            }
        },
    }
    p = price(response, {"tools": [{"type": "image_generation"}]})  # no model: the default
    # gpt-image-2.6-sunburst (default from 2026-10-23; Longhaul's table, genai-prices lacks it):
    # text in $5/M, image in $8/M, output $30/M. Before: three unpriced lines, $0.
    assert amounts(p) == {
        "tool:image_generation:tokens:input_tokens": D("0.000250"),  # 50 * 5 / 1M
        "tool:image_generation:tokens:input_image_tokens": D("0.008000"),  # 1,000 * 8 / 1M
        "tool:image_generation:tokens:output_tokens": D("0.124800"),  # 4,160 * 30 / 1M
    }
    assert total(p) == D("0.13305")
    assert p.complete
    assert all(line.details["image_model"] == "gpt-image-2.6-sunburst" for line in p.lines)
    assert all(line.price_source.startswith("longhaul tool_fees.toml: ") for line in p.lines)
    assert {line.effective_from.isoformat() for line in p.lines} == {"2026-10-23"}


@pytest.mark.parametrize(
    ("model", "tier", "at", "expected", "arithmetic"),
    [
        ("gpt-5", "ultrafast", NOV, D("0.045"), "12,000 * 1.25/M + 3,000 * 10/M (standard)"),
        ("gpt-4.1", "scale", NOV, D("0.048"), "12,000 * 2/M + 3,000 * 8/M (standard)"),
        (
            "gpt-5",
            "flex",
            datetime(2026, 9, 1, tzinfo=UTC),
            D("0.045"),
            "flex before 2026-10-12: 12,000 * 1.25/M + 3,000 * 10/M (standard)",
        ),
    ],
)
def test_unmodelled_tier_is_a_visible_fallback(
    model: str, tier: str, at: datetime, expected: D, arithmetic: str
) -> None:
    p = price({"model": model, "service_tier": tier, "usage": usage(12_000, 3_000)}, at=at)
    assert total(p) == expected, arithmetic
    assert p.service_tier == tier
    assert not p.complete  # before: every line priced, nothing said the tier was missing
    assert all(line.fallback and tier in line.fallback for line in p.lines)


def test_image_token_lines_carry_the_call_count() -> None:
    response = {
        "model": "gpt-5",
        "output": [_image_call("ig_1"), _image_call("ig_2")],
        "tool_usage": {
            "image_gen": {
                "input_tokens": 100,
                "output_tokens": 8_320,
                "output_tokens_details": {"image_tokens": 8_320},
            }
        },
    }
    p = price(response, {"tools": [{"type": "image_generation", "model": "gpt-image-1"}]})
    # 100 * 5/M = 0.0005; 8,320 * 40/M = 0.3328 — two images, counted once (on the first line)
    assert amounts(p) == {
        "tool:image_generation:tokens:input_tokens": D("0.000500"),
        "tool:image_generation:tokens:output_tokens": D("0.332800"),
    }
    assert [line.details.get("calls") for line in p.lines] == [2, None]

"""Golden cases for the maximum cost a budget hold reserves (arithmetic written out)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from longhaul.core.pricing import load_price_book
from longhaul.core.pricing.estimate import estimate_max_cost, input_bound

NOV = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
BOOK = load_price_book()


def test_input_bound_is_utf8_bytes_of_the_text() -> None:
    assert input_bound({"input": "Say hello"}) == 11  # '"Say hello"': 9 + 2 quotes
    assert input_bound({"input": "café", "instructions": "Be brief"}) == 17  # 7 + 10
    # a BPE token is at least one byte: never fewer bytes than tokens
    assert input_bound({"input": "x" * 1000}) >= 1000 // 4


def test_tokens_with_max_output_tokens() -> None:
    e = estimate_max_cost(
        {"model": "gpt-5", "input": "Say hello", "max_output_tokens": 1_000}, at=NOV, book=BOOK
    )
    # gpt-5: 11 bytes, rounded up to a 256-token block: 256 * 1.25/M = 0.00032;
    # 1,000 * 10/M = 0.01
    assert (e.input_tokens, e.output_tokens, e.amount) == (256, 1_000, D("0.010320"))


def test_output_up_to_the_model_cap_or_context_window_without_max_output_tokens() -> None:
    e = estimate_max_cost({"model": "gpt-5", "input": "Say hello"}, at=NOV, book=BOOK)
    # the table's gpt-5* cap: 128,000 output * 10/M = 1.28, + 256 * 1.25/M = 0.00032 input
    assert (e.output_tokens, e.amount) == (128_000, D("1.280320"))
    assert "cap (128000)" in e.notes[0]
    e = estimate_max_cost({"model": "gpt-4.1", "input": "Say hello"}, at=NOV, book=BOOK)
    # no cap in the table: context window 1,000,000 (genai-prices) - 11 input = 999,989 * 8/M
    # = 7.999912, + 256 * 2/M = 0.000512
    assert (e.output_tokens, e.amount) == (999_989, D("8.000424"))
    assert "context window" in e.notes[0]


def test_tools_within_max_tool_calls_and_containers() -> None:
    request = {
        "model": "gpt-4o",
        "input": "x",
        "max_output_tokens": 100,
        "max_tool_calls": 4,
        "tools": [
            {"type": "web_search_preview"},
            {"type": "file_search", "vector_store_ids": ["vs_1"]},
            {"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "4g"}},
        ],
    }
    e = estimate_max_cost(request, at=NOV, book=BOOK)
    assert input_bound(request) == 173  # bytes of '"x"' and of the tools' JSON
    # tokens: 173 → 256 * 2.5/M = 0.00064; 100 * 10/M = 0.001 → 0.00164
    tokens = D("0.001640")
    # dearest per-call tool: 4 * $25/1k preview search = 0.1 (file search 4 * $2.50/1k = 0.01);
    # one 4 GB container, billed as the ledger bills it: 5 min * $0.006 = 0.03
    assert e.parts == {"tokens": "0.001640", "tool_calls": "0.100000", "containers": "0.030000"}
    assert e.amount == tokens + D("0.13")


def test_image_tool_default_model_and_assumed_calls() -> None:
    request = {
        "model": "gpt-5",
        "input": "draw",
        "max_output_tokens": 100,
        "tools": [{"type": "image_generation"}],
    }
    e = estimate_max_cost(request, at=NOV, default_tool_calls=2, book=BOOK)
    # 2 images * 12,480 image tokens * $30/M (gpt-image-2.6-sunburst) = 0.7488
    assert e.parts["tool_calls"] == "0.748800"
    assert "2 tool calls assumed" in e.notes[0]


def test_completion_window_discount_and_prior_context() -> None:
    request = {"model": "gpt-5", "input": "Say hello", "max_output_tokens": 1_000}
    e = estimate_max_cost(request, at=NOV, completion_window="8h", prior_tokens=989, book=BOOK)
    # input 11 + 989 predecessor tokens = 1,000 → 1,024 * (1.25 * 0.6)/M = 0.000768;
    # output 1,000 * (10 * 0.6)/M = 0.006
    assert (e.input_tokens, e.amount) == (1_024, D("0.006768"))


def test_unknown_model_has_no_bound() -> None:
    e = estimate_max_cost({"model": "acme-llm-9", "input": "x"}, at=NOV, book=BOOK)
    assert e.amount is None and e.view()["max_usd"] is None

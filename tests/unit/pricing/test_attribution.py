"""Golden cases for the cost per tool call: shares written out, sums equal to the ledger exactly."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal as D

from longhaul.core.pricing import load_price_book, price_response
from longhaul.core.pricing.attribution import attribute, call_times

NOV = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)

OUTPUT = [
    {"type": "reasoning", "id": "rs_1", "summary": []},
    {"type": "web_search_call", "id": "ws_1", "action": {"type": "search"}},  # 1
    {"type": "web_search_call", "id": "ws_2", "action": {"type": "open_page"}},  # 2: free
    {"type": "web_search_call", "id": "ws_3", "action": {"type": "search"}},  # 3
    {"type": "web_search_call", "id": "ws_4", "action": {"type": "search"}},  # 4
    {"type": "code_interpreter_call", "id": "ci_1", "container_id": "cntr_a"},  # 5
    {"type": "code_interpreter_call", "id": "ci_2", "container_id": "cntr_a"},  # 6
    {"type": "code_interpreter_call", "id": "ci_3", "container_id": "cntr_b"},  # 7
    {"type": "file_search_call", "id": "fs_1", "queries": ["q"]},  # 8
    {"type": "file_search_call", "id": "fs_2", "queries": ["q"]},  # 9
    {"type": "image_generation_call", "id": "ig_1", "status": "completed"},  # 10
    {"type": "image_generation_call", "id": "ig_2", "status": "completed"},  # 11
    {"type": "image_generation_call", "id": "ig_3", "status": "failed"},  # 12: not billed
    {"type": "function_call", "id": "fc_1", "call_id": "c", "name": "f", "arguments": "{}"},
    {"type": "message", "id": "msg_1", "content": []},
]
RESPONSE = {
    "model": "gpt-5",
    "usage": {"input_tokens": 10_000, "output_tokens": 1_000},
    "tool_usage": {
        "web_search": {"num_requests": 7},  # billable searches, more than the 3 shown
        "image_gen": {
            "input_tokens": 100,
            "output_tokens": 8_320,
            "output_tokens_details": {"image_tokens": 8_320},
        },
    },
    "output": OUTPUT,
}
REQUEST = {
    "tools": [
        {"type": "web_search"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "4g"}},
        {"type": "image_generation", "model": "gpt-image-1"},
    ]
}


def test_cost_per_call_adds_up_to_the_ledger_exactly() -> None:
    priced = price_response(RESPONSE, request=REQUEST, requested_at=NOV, book=load_price_book())
    lines = {line.item: line.amount for line in priced.lines}
    assert lines["tool:web_search:calls"] == D("0.070000")  # 7 * $10 / 1,000
    assert lines["container:cntr_a"] == D("0.030000")  # 5 min * $0.006 (4 GB)
    split = attribute(priced.lines, OUTPUT)
    cost = {n: c.amount for n, c in split.calls.items()}
    assert cost == {
        # 0.07 over the 3 visible searches: 70,000 millionths = 23,333 * 3 + 1 → first gets +1
        1: D("0.023334"),
        3: D("0.023333"),
        4: D("0.023333"),
        5: D("0.015000"),  # cntr_a 0.03 over its 2 calls
        6: D("0.015000"),
        7: D("0.030000"),  # cntr_b alone
        8: D("0.002500"),  # 2 file searches * $2.50 / 1,000, one each
        9: D("0.002500"),
        # image tokens (gpt-image-1): in 100 * 5/M = 0.0005, out 8,320 * 40/M = 0.3328,
        # over the 2 completed images: 0.00025 + 0.1664
        10: D("0.166650"),
        11: D("0.166650"),
    }
    assert split.calls[10].shares == {
        "tool:image_generation:tokens:input_tokens": D("0.000250"),
        "tool:image_generation:tokens:output_tokens": D("0.166400"),
    }
    assert split.unattributed == []
    by_tool_lines: dict[str, D] = defaultdict(D)
    for line in priced.lines:
        if line.tool and line.amount is not None:
            by_tool_lines[line.tool] += line.amount
    by_tool_calls: dict[str, D] = defaultdict(D)
    tool_of = {line.item: line.tool for line in priced.lines}
    for call in split.calls.values():
        for item, share in call.shares.items():
            by_tool_calls[str(tool_of[item])] += share or D(0)
    assert by_tool_calls == by_tool_lines  # exact Decimal equality, every tool


def test_odd_split_and_unattributed_line() -> None:
    output = [
        {"type": "code_interpreter_call", "id": f"ci_{n}", "container_id": "cntr_x"}
        for n in range(7)
    ]
    priced = price_response(
        {
            "model": "gpt-4o",
            "tool_usage": {"web_search": {"num_requests": 1}},  # no web_search_call item
            "output": output,
        },
        request={"tools": [{"type": "web_search"}, {"type": "code_interpreter"}]},
        requested_at=datetime(2026, 1, 15, tzinfo=UTC),  # per-container era: $0.03 (1 GB)
        book=load_price_book(),
    )
    split = attribute(priced.lines, output)
    # 0.03 = 30,000 millionths over 7 calls: 4,285 * 7 = 29,995, the first 5 get one more
    assert [split.calls[n].amount for n in range(7)] == [D("0.004286")] * 5 + [D("0.004285")] * 2
    assert sum((c.amount for c in split.calls.values()), D(0)) == D("0.030000")
    assert split.unattributed == ["tool:web_search:calls"]  # 1 * $10/1k with no item to carry it


def test_call_times_only_where_the_item_has_them() -> None:
    assert call_times({"type": "web_search_call", "id": "ws"}) == (None, None)
    # unix seconds 1,789,992,000 = 2026-09-21 12:00:00 UTC
    assert call_times({"created_at": 1_789_992_000, "completed_at": "2026-09-21T12:00:05Z"}) == (
        datetime(2026, 9, 21, 12, 0, 0, tzinfo=UTC),
        datetime(2026, 9, 21, 12, 0, 5, tzinfo=UTC),
    )

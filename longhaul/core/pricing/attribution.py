"""Cost per tool call: each tool line of the ledger split over the output items it paid for.

A line's amount (already rounded to 1e-6 USD) is split in whole millionths over its calls, the
remainder going one millionth each to the first calls, so the shares of a line add up to the
line exactly and the calls of a tool add up to the tool's lines. Which calls a line pays for:

* web search calls: the ``web_search_call`` items whose action is a search (page opens are free);
  when ``tool_usage`` counts more billable searches than the output shows, the visible ones
  carry the whole line;
* file search calls: every ``file_search_call`` item;
* a container: the ``code_interpreter_call`` / hosted ``shell_call`` items that ran in it;
* image-model tokens: the completed ``image_generation_call`` items; a per-image line: its item.

A tool line with no such item (e.g. searches counted by ``tool_usage`` with none in the output)
stays unattributed and is listed as such; host-model token lines are never split over calls.
The response carries no per-call timing today; ``started_at``/``ended_at`` are read from an
item's own timestamps when it has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from longhaul.core.pricing.lines import USD_STEP, PricedLine

IMAGE_TOKENS = "tool:image_generation:tokens"


@dataclass
class CallCost:
    """One tool call's share of the ledger: ``shares`` maps ledger items to amounts (None when
    the line is unpriced); ``amount`` sums the priced shares."""

    output_index: int
    shares: dict[str, Decimal | None] = field(default_factory=dict)

    @property
    def amount(self) -> Decimal | None:
        priced = [v for v in self.shares.values() if v is not None]
        return sum(priced, Decimal(0)) if priced else None


@dataclass
class Attribution:
    calls: dict[int, CallCost]  # by output index
    unattributed: list[str]  # tool lines no output item stands for


def attribute(lines: list[PricedLine], output: list[Any]) -> Attribution:
    items = [(n, i) for n, i in enumerate(output or []) if isinstance(i, dict)]
    calls: dict[int, CallCost] = {}
    unattributed = []
    for line in lines:
        if line.tool is None:
            continue
        indexes = _paid_calls(line, items)
        if not indexes:
            unattributed.append(line.item)
            continue
        for index, share in zip(indexes, _split(line.amount, len(indexes)), strict=True):
            calls.setdefault(index, CallCost(index)).shares[line.item] = share
    return Attribution(calls, unattributed)


def _split(amount: Decimal | None, parts: int) -> list[Decimal | None]:
    if amount is None:
        return [None] * parts
    base, rest = divmod(int(amount / USD_STEP), parts)
    return [(base + (1 if n < rest else 0)) * USD_STEP for n in range(parts)]


def _paid_calls(line: PricedLine, items: list[tuple[int, dict[str, Any]]]) -> list[int]:
    def of(kind: str) -> list[int]:
        return [n for n, i in items if i.get("type") == kind]

    if line.kind == "web_search_calls":
        searches = [
            n
            for n, i in items
            if i.get("type") == "web_search_call"
            and (i.get("action") or {}).get("type", "search") == "search"
        ]
        return searches or of("web_search_call")
    if line.kind == "file_search_calls":
        return of("file_search_call")
    if line.kind == "container":
        cid = line.details.get("container_id")
        return [n for n, i in items if cid is not None and _container_of(i) == cid]
    if line.item.startswith(IMAGE_TOKENS):
        done = [
            n
            for n, i in items
            if i.get("type") == "image_generation_call" and i.get("status") in (None, "completed")
        ]
        return done or of("image_generation_call")
    if line.item.startswith("image:"):
        key = line.item.removeprefix("image:")
        by_id = [n for n, i in items if i.get("id") == key]
        if by_id:
            return by_id
        dicts = [n for n, _ in items]  # per-image lines without an id use the item's position
        return [dicts[int(key)]] if key.isdigit() and int(key) < len(dicts) else []
    return []


def _container_of(item: dict[str, Any]) -> str | None:
    if item.get("type") == "code_interpreter_call":
        return item.get("container_id")
    if item.get("type") == "shell_call":
        env = item.get("environment") or {}
        if env.get("type") == "container_reference":
            return env.get("container_id")
    return None


def call_times(item: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(start, end) from the item's own timestamps (unix seconds or ISO 8601), when it has any."""
    start = _when(item.get("started_at", item.get("created_at")))
    end = _when(item.get("completed_at", item.get("ended_at")))
    return start, end


def _when(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None

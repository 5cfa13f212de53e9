"""Built-in tool fees: counts from ``tool_usage`` when present, else from the output items.

Prices come from the dated table (``book.py``), never from genai-prices, so the preview/GA and
reasoning/non-reasoning rules hold and nothing is counted twice (docs/costs.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from longhaul.core.pricing.book import FeeRow, PriceBook
from longhaul.core.pricing.lines import PricedLine, unpriced
from longhaul.core.pricing.tokens import price_tokens

DEFAULT_MEMORY = "1g"


def tool_lines(
    response: dict[str, Any], request: dict[str, Any], *, model: str, at: datetime, book: PriceBook
) -> list[PricedLine]:
    output = [i for i in response.get("output") or [] if isinstance(i, dict)]
    tools = used_tools(response, request)
    tool_usage = response.get("tool_usage") or {}
    lines = _web_search(output, tools, tool_usage, model, at, book)
    lines += _file_search(output, at, book)
    lines += _containers(output, tools, at, book)
    lines += _images(output, tools, tool_usage, at, book)
    return lines


def used_tools(response: dict[str, Any], request: dict[str, Any]) -> list[dict[str, Any]]:
    """The tools the upstream ran with: ``Response.tools`` (which includes tools that came from a
    stored prompt), else the request body's."""
    tools = response.get("tools")
    if not isinstance(tools, list) or not tools:
        tools = request.get("tools") or []
    return [t for t in tools if isinstance(t, dict)]


def _fee_line(
    row: FeeRow | None,
    *,
    item: str,
    kind: str,
    tool: str,
    quantity: Decimal,
    unit: str,
    missing: str,
    details: dict[str, Any],
) -> PricedLine:
    if row is None:
        return unpriced(item, kind, quantity, unit, missing, tool=tool, details=details)
    return PricedLine(
        item=item,
        kind=kind,
        quantity=quantity,
        unit=row.unit,
        tool=tool,
        unit_price=row.price,
        per=row.per,
        price_source=f"{row.origin}: {row.source}",
        effective_from=row.effective_from,
        details=details,
    )


def _web_search(
    output: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    tool_usage: dict[str, Any],
    model: str,
    at: datetime,
    book: PriceBook,
) -> list[PricedLine]:
    usage = tool_usage.get("web_search")
    if isinstance(usage, dict) and usage.get("num_requests") is not None:
        count, counted_from = int(usage["num_requests"]), "tool_usage.web_search.num_requests"
    else:
        count = sum(
            1
            for i in output
            if i.get("type") == "web_search_call"
            and (i.get("action") or {}).get("type", "search") == "search"
        )
        counted_from = "web_search_call items with action search"
    if not count:
        return []
    types = [str(t.get("type", "")) for t in tools]
    preview = any(t.startswith("web_search_preview") for t in types) and not any(
        t.startswith("web_search") and not t.startswith("web_search_preview") for t in types
    )
    details: dict[str, Any] = {"counted_from": counted_from}
    day = at.astimezone(UTC).date()
    if preview:
        family = "reasoning" if book.is_reasoning(model) else "non_reasoning"
        tool, row = "web_search_preview", book.fee("web_search_preview", family, day)
        details["model_family"] = family
    else:
        tool, row = "web_search", book.fee("web_search", "*", day)
    return [
        _fee_line(
            row,
            item=f"tool:{tool}:calls",
            kind="web_search_calls",
            tool=tool,
            quantity=Decimal(count),
            unit="call",
            missing=f"no {tool} fee in effect on {day}",
            details=details,
        )
    ]


def _file_search(output: list[dict[str, Any]], at: datetime, book: PriceBook) -> list[PricedLine]:
    count = sum(1 for i in output if i.get("type") == "file_search_call")
    if not count:
        return []
    day = at.astimezone(UTC).date()
    return [
        _fee_line(
            book.fee("file_search", "call", day),
            item="tool:file_search:calls",
            kind="file_search_calls",
            tool="file_search",
            quantity=Decimal(count),
            unit="call",
            missing=f"no file_search fee in effect on {day}",
            details={"counted_from": "file_search_call items"},
        )
    ]


def _memory_limits(tools: list[dict[str, Any]]) -> dict[str, str | None]:
    """Memory tier of auto containers per tool (None: an existing container, tier unknown)."""
    limits: dict[str, str | None] = {}
    for t in tools:
        if t.get("type") == "code_interpreter":
            c = t.get("container")
            limits["code_interpreter"] = c.get("memory_limit") if isinstance(c, dict) else None
        elif t.get("type") == "shell":
            env = t.get("environment")
            if isinstance(env, dict) and env.get("type") == "container_auto":
                limits["shell"] = env.get("memory_limit")
    return limits


def _container_ids(output: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    for i in output:
        cid, tool = None, None
        if i.get("type") == "code_interpreter_call":
            cid, tool = i.get("container_id"), "code_interpreter"
        elif i.get("type") == "shell_call":
            env = i.get("environment") or {}
            if env.get("type") == "container_reference":  # hosted shell; local shells are free
                cid, tool = env.get("container_id"), "shell"
        if cid and tool and cid not in seen:
            seen.add(cid)
            yield str(cid), tool


def _containers(
    output: list[dict[str, Any]], tools: list[dict[str, Any]], at: datetime, book: PriceBook
) -> list[PricedLine]:
    limits = _memory_limits(tools)
    day = at.astimezone(UTC).date()
    lines = []
    for cid, tool in _container_ids(output):
        memory = limits.get(tool)
        details: dict[str, Any] = {"container_id": cid, "memory_limit": memory or DEFAULT_MEMORY}
        if memory is None:
            details["memory_limit_assumed"] = True
        row = book.fee("container", memory or DEFAULT_MEMORY, day)
        quantity = Decimal(1)
        if row is not None and row.unit == "minute":
            # The Response has no container duration: bill the minimum (a lower bound).
            quantity = row.minimum or Decimal(1)
            details["minutes"] = "minimum billed; duration not reported"
        elif row is not None and row.unit == "session":
            details["sessions"] = "one 20-minute session assumed"
        lines.append(
            _fee_line(
                row,
                item=f"container:{cid}",
                kind="container",
                tool=tool,
                quantity=quantity,
                unit=row.unit if row else "container",
                missing=f"no container fee for memory {memory or DEFAULT_MEMORY} on {day}",
                details=details,
            )
        )
    return lines


def _image_tool(tools: list[dict[str, Any]]) -> dict[str, Any]:
    return next((t for t in tools if t.get("type") == "image_generation"), {})


def _images(
    output: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    tool_usage: dict[str, Any],
    at: datetime,
    book: PriceBook,
) -> list[PricedLine]:
    calls = [(n, i) for n, i in enumerate(output) if i.get("type") == "image_generation_call"]
    gen = tool_usage.get("image_gen") if isinstance(tool_usage.get("image_gen"), dict) else None
    if not calls and not gen:
        return []
    day = at.astimezone(UTC).date()
    config = _image_tool(tools)
    model = config.get("model")
    details: dict[str, Any] = {"image_model": model}
    if not model:
        default = book.image_default_model(day)
        model = default.value if default else None
        details = {"image_model": model, "image_model_from": "default for the date"}
    if gen and (gen.get("input_tokens") or gen.get("output_tokens")):
        if model is None:
            return [
                unpriced(
                    "tool:image_generation:tokens",
                    "image_tokens",
                    Decimal(gen.get("total_tokens") or 0),
                    "token",
                    f"no default image model on {day}",
                    tool="image_generation",
                )
            ]
        details["counted_from"] = "tool_usage.image_gen"
        if not isinstance(gen.get("output_tokens_details"), dict):
            details["output_split"] = "output_tokens_details absent: all output as image tokens"
        lines = price_tokens(
            _image_usage(gen),
            str(model),
            at=at,
            book=book,
            item_prefix="tool:image_generation:tokens",
            kind_prefix="image_",
            tool="image_generation",
            details=details,
        )
        # Token lines hide how many images they pay for: the first one carries the call count
        # (what /v1/usage counts as tool calls).
        done = sum(1 for _, i in calls if i.get("status") in (None, "completed"))
        if lines:
            lines[0] = replace(lines[0], details={**lines[0].details, "calls": done})
        return lines
    lines = []
    for n, item in calls:
        if item.get("status") not in (None, "completed"):
            continue
        quality = item.get("quality") or config.get("quality") or "auto"
        size = item.get("size") or config.get("size") or "auto"
        key = f"{model}/{quality}/{size}"
        lines.append(
            _fee_line(
                book.fee("image", key, day),
                item=f"image:{item.get('id') or n}",
                kind="images",
                tool="image_generation",
                quantity=Decimal(1),
                unit="image",
                missing=f"no per-image price for {key} on {day}",
                details={
                    **details,
                    "quality": quality,
                    "size": size,
                    "counted_from": "image_generation_call items (per-image fallback)",
                },
            )
        )
    return lines


def _image_usage(gen: dict[str, Any]) -> dict[str, int]:
    """``tool_usage.image_gen`` in genai-prices usage keys.

    ``output_tokens_details`` is optional: without it every output token is an image token (the
    tool's output is the image), never the model's cheaper text-output rate.
    """
    ind = gen.get("input_tokens_details") or {}
    outd = gen.get("output_tokens_details")
    if not isinstance(outd, dict):
        outd = {"image_tokens": gen.get("output_tokens") or 0}
    cached = gen.get("cached_tokens_details") or {}
    return {
        "input_tokens": int(gen.get("input_tokens") or 0),
        "input_text_tokens": int(ind.get("text_tokens") or 0),
        "input_image_tokens": int(ind.get("image_tokens") or 0),
        "cache_read_tokens": int(gen.get("cached_tokens") or 0),
        "cache_text_read_tokens": int(cached.get("cached_text_tokens") or 0),
        "cache_image_read_tokens": int(cached.get("cached_image_tokens") or 0),
        "output_tokens": int(gen.get("output_tokens") or 0),
        "output_text_tokens": int(outd.get("text_tokens") or 0),
        "output_image_tokens": int(outd.get("image_tokens") or 0),
    }

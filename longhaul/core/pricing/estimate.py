"""The most a request can cost, before it runs: what a budget hold reserves.

Priced with the same rules and tables as the ledger (``price_response`` on synthetic responses),
at the request time, the requested tier and completion window:

* **input tokens**: at most the UTF-8 bytes of the request's text (instructions, input text,
  tool definitions) — a byte-level BPE token is at least one byte, so this bounds any OpenAI
  tokenizer without needing its vocabulary (which cannot be downloaded at run time here) — plus
  the predecessor's input and output tokens when ``previous_response_id`` names a finished job.
  Images and files in the input are not counted (an estimate error);
* **output tokens**: ``max_output_tokens``, else the model's output cap from the table, else its
  context window (genai-prices) minus the input bound; reasoning tokens are part of the output;
* **tool fees**: ``max_tool_calls`` (else ``default_tool_calls``) calls of the dearest declared
  per-call tool (web/file search; image generation at 12,480 output image tokens an image, the
  largest size at the highest quality), plus one container per container tool, billed as the
  ledger bills it (the minimum).

Everything is priced at list prices for the tier; cached input is not assumed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any

import genai_prices

from longhaul.core.pricing.book import PriceBook, get_price_book
from longhaul.core.pricing.engine import price_response
from longhaul.core.pricing.tokens import normalize_tier

INPUT_BLOCK = 256
IMAGE_TOKENS_BOUND = 12_480  # 1.5 x the 8,320 of a square image at the highest quality
PER_CALL_TOOLS = ("web_search", "file_search", "image_generation")


@dataclass
class Estimate:
    amount: Decimal | None  # None: the model is unpriced, no bound can be given
    input_tokens: int
    output_tokens: int | None
    parts: dict[str, str] = field(default_factory=dict)  # tokens / tools: USD
    notes: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "max_usd": None if self.amount is None else f"{self.amount:.6f}",
            "input_tokens_max": self.input_tokens,
            "output_tokens_max": self.output_tokens,
            "parts": self.parts,
            "notes": self.notes,
        }


def input_bound(request: dict[str, Any]) -> int:
    """UTF-8 bytes of the request's text: an upper bound on its tokens."""
    text = [request.get("instructions"), request.get("input"), request.get("tools")]
    return sum(len(json.dumps(t, ensure_ascii=False).encode()) for t in text if t)


def estimate_max_cost(
    request: dict[str, Any],
    *,
    at: datetime,
    completion_window: str | None = None,
    prior_tokens: int = 0,
    default_tool_calls: int = 20,
    book: PriceBook | None = None,
) -> Estimate:
    book = book or get_price_book()
    model = str(request.get("model") or "")
    tier = normalize_tier(request.get("service_tier"))
    inp = input_bound(request) + prior_tokens
    out = request.get("max_output_tokens")
    notes: list[str] = []
    if not isinstance(out, int) or out < 1:
        cap = book.output_cap(model, at.date())
        window = _context_window(model)
        if cap is not None:
            out = min(cap, window) if window else cap
            notes.append(f"no max_output_tokens: the model's cap ({out})")
        else:
            out = max(window - inp, 0) if window else None
            if out is not None:
                notes.append(f"no max_output_tokens: the context window ({window}) less input")
    if out is None:
        return Estimate(None, inp, None, notes=[f"model {model!r}: no price or context window"])

    def cost(response: dict[str, Any], tools: list[dict[str, Any]]) -> Decimal | None:
        synthetic = {"model": model, "service_tier": tier, "tools": tools, **response}
        key = json.dumps(synthetic, sort_keys=True)
        _BOOKS.setdefault(id(book), book)  # kept alive, so its id stays its own
        return _cost(key, at.date(), completion_window, id(book))

    # Input rounded up to a whole block of tokens: still a bound, and the price of a shape is
    # then computed once (pricing runs at every admission).
    inp = -(-inp // INPUT_BLOCK) * INPUT_BLOCK
    tokens = cost({"usage": {"input_tokens": inp, "output_tokens": out}}, [])
    if tokens is None:
        return Estimate(None, inp, out, notes=[f"model {model!r} is unpriced"])
    tools = [t for t in request.get("tools") or [] if isinstance(t, dict)]
    limit = request.get("max_tool_calls")
    calls = limit if isinstance(limit, int) and limit >= 0 else default_tool_calls
    if tools and limit is None:
        notes.append(f"no max_tool_calls: {calls} tool calls assumed")
    per_call: dict[str, Decimal] = {}
    containers = Decimal(0)
    for tool in tools:
        kind = str(tool.get("type", ""))
        fee = cost(*_synthetic(tool, kind, calls)) if _billed(tool, kind) else Decimal(0)
        if fee is None:
            notes.append(f"{kind}: no price, not held")
        elif kind in ("code_interpreter", "shell"):
            containers += fee
        elif fee:
            per_call[kind] = max(fee, per_call.get(kind, Decimal(0)))
    dearest = max(per_call.values(), default=Decimal(0))
    parts = {"tokens": f"{tokens:.6f}", "tool_calls": f"{dearest:.6f}"}
    parts["containers"] = f"{containers:.6f}"
    return Estimate(tokens + dearest + containers, inp, out, parts, notes)


def _billed(tool: dict[str, Any], kind: str) -> bool:
    if kind == "shell":
        env = tool.get("environment")
        return isinstance(env, dict) and env.get("type") == "container_auto"
    return kind.startswith(PER_CALL_TOOLS) or kind == "code_interpreter"


def _synthetic(
    tool: dict[str, Any], kind: str, calls: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A response that uses ``tool`` to the limit, for ``price_response``."""
    if kind.startswith("web_search"):
        return {"tool_usage": {"web_search": {"num_requests": calls}}}, [tool]
    if kind == "file_search":
        return {"output": [{"type": "file_search_call"} for _ in range(calls)]}, [tool]
    if kind == "image_generation":
        images = [{"type": "image_generation_call", "status": "completed"} for _ in range(calls)]
        tokens = IMAGE_TOKENS_BOUND * calls
        usage = {"output_tokens": tokens, "output_tokens_details": {"image_tokens": tokens}}
        return {"output": images, "tool_usage": {"image_gen": usage}}, [tool]
    if kind == "shell":
        env = {"type": "container_reference", "container_id": "cntr_estimate"}
        return {"output": [{"type": "shell_call", "environment": env}]}, [tool]
    item = {"type": "code_interpreter_call", "container_id": "cntr_estimate"}
    return {"output": [item]}, [tool]


_BOOKS: dict[int, PriceBook] = {}


@lru_cache(maxsize=4096)
def _cost(synthetic: str, day: date, window: str | None, book_id: int) -> Decimal | None:
    """The priced total of a synthetic response (``None`` if any line is unpriced), at noon
    UTC of ``day``: prices change by day, never within one."""
    priced = price_response(
        json.loads(synthetic),
        request={},
        requested_at=datetime.combine(day, time(12), UTC),
        completion_window=window,
        book=_BOOKS[book_id],
    )
    if not all(line.priced for line in priced.lines):
        return None
    return sum((line.amount or Decimal(0) for line in priced.lines), Decimal(0))


@lru_cache(maxsize=1024)
def _context_window(model: str) -> int | None:
    try:
        usage = genai_prices.Usage(input_tokens=1)
        calc = genai_prices.calc_price(usage, model, provider_id="openai")
    except LookupError:
        return None
    return calc.model.context_window

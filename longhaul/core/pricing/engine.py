"""Price a finished Responses API response: host-model tokens plus built-in tool fees.

Everything is priced at the job's request time (``requested_at``), with the ``service_tier`` the
response reports and the completion window the job requested (the Response does not echo it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from longhaul.core.pricing.book import PriceBook, get_price_book
from longhaul.core.pricing.lines import PricedLine
from longhaul.core.pricing.tokens import normalize_tier, price_tokens
from longhaul.core.pricing.tools import tool_lines


@dataclass(frozen=True)
class PricedResponse:
    model: str
    service_tier: str
    completion_window: str | None
    lines: list[PricedLine]
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every line priced, none by a fallback (an unmodelled tier priced at standard)."""
        return all(line.priced and line.fallback is None for line in self.lines)


def response_usage(response: dict[str, Any]) -> dict[str, int]:
    """``Response.usage`` in genai-prices usage keys (its ``responses`` extractor's mapping)."""
    usage = response.get("usage") or {}
    ind = usage.get("input_tokens_details") or {}
    outd = usage.get("output_tokens_details") or {}
    return {
        "input_tokens": int(usage.get("input_tokens") or 0),
        "cache_read_tokens": int(ind.get("cached_tokens") or 0),
        "cache_write_tokens": int(ind.get("cache_write_tokens") or 0),
        "output_tokens": int(usage.get("output_tokens") or 0),
        "output_reasoning_tokens": int(outd.get("reasoning_tokens") or 0),
    }


def price_response(
    response: dict[str, Any],
    *,
    request: dict[str, Any] | None = None,
    requested_at: datetime,
    completion_window: str | None = None,
    book: PriceBook | None = None,
) -> PricedResponse:
    book = book or get_price_book()
    request = request or {}
    if requested_at.tzinfo is None:
        requested_at = requested_at.replace(tzinfo=UTC)
    model = str(response.get("model") or request.get("model") or "")
    tier = normalize_tier(response.get("service_tier"))
    notes: list[str] = []
    multiplier: Decimal | None = None
    details: dict[str, Any] = {}
    if completion_window and completion_window != "soonest":
        discount = book.discount(completion_window, requested_at.astimezone(UTC).date())
        if tier != "default":
            notes.append(f"completion window {completion_window} not applied: tier {tier}")
        elif discount is None:
            notes.append(f"no discount for completion window {completion_window} on that date")
        else:
            multiplier = Decimal(discount.value)
            details = {"completion_window": completion_window, "discount_source": discount.source}
    lines = price_tokens(
        response_usage(response),
        model,
        at=requested_at,
        book=book,
        service_tier=tier,
        multiplier=multiplier,
        details=details,
    )
    lines += tool_lines(response, request, model=model, at=requested_at, book=book)
    if any(line.details.get("tier_not_modelled") for line in lines):
        notes.append(f"service tier {tier} not modelled for {model} on that date: standard price")
    return PricedResponse(model, tier, completion_window, lines, notes)

"""A priced (or unpriced) ledger line, before it is stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

USD_STEP = Decimal("0.000001")

# Line kinds. Host-model token kinds start with input/cached/cache (input side) or
# output/reasoning (output side); other genai-prices units keep their usage key as kind.
TOKEN_KINDS = {
    "input_tokens": "input_tokens",
    "cache_read_tokens": "cached_input_tokens",
    "cache_write_tokens": "cache_write_tokens",
    "output_tokens": "output_tokens",
    "output_reasoning_tokens": "reasoning_tokens",
}


def usd(value: Decimal) -> Decimal:
    """Round an amount to 1e-6 USD, half up."""
    return value.quantize(USD_STEP, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PricedLine:
    """One ledger line. ``amount = usd(quantity * unit_price / per)``; ``None`` when unpriced."""

    item: str  # unique within a job, e.g. "tokens:input_tokens", "container:cntr_1"
    kind: str
    quantity: Decimal
    unit: str  # token | call | container | session | minute | image
    tool: str | None = None
    unit_price: Decimal | None = None
    per: int = 1
    price_source: str | None = None
    effective_from: date | None = None
    unpriced_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def priced(self) -> bool:
        return self.unpriced_reason is None and self.unit_price is not None

    @property
    def fallback(self) -> str | None:
        """Why this line is priced by a fallback (e.g. a tier priced at standard), if it is."""
        reason = self.details.get("fallback")
        return str(reason) if reason else None

    @property
    def amount(self) -> Decimal | None:
        if not self.priced:
            return None
        assert self.unit_price is not None
        return usd(self.quantity * self.unit_price / self.per)


def unpriced(
    item: str, kind: str, quantity: Decimal, unit: str, reason: str, **kw: Any
) -> PricedLine:
    return PricedLine(
        item=item, kind=kind, quantity=quantity, unit=unit, unpriced_reason=reason, **kw
    )

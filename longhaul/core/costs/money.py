"""Amounts as people read them: at least cents, never fewer digits than the amount has."""

from __future__ import annotations

from decimal import Decimal

from longhaul.core.pricing import usd


def dollars(value: Decimal) -> str:
    """``$100.00``, ``$0.385``, ``$0.001`` (rounded to 1e-6; ``:.2f`` would show $0.00)."""
    amount = usd(Decimal(value)).normalize()
    exponent = amount.as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    return f"${amount:.{places}f}"

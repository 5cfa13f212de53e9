"""Token lines priced with genai-prices (or a user override), one line per priced usage unit.

genai-prices works on a usage hierarchy: ``input_tokens`` is the total and cache reads/writes are
parts of it; each priced unit is charged for its *leaf* count (its value minus its priced
children's). We price the same leaves one by one so the ledger shows a line per token kind, and
check that the lines add up to genai-prices' own ``calc_price`` total.

genai-prices loads its bundled ``data.py`` and never touches the network unless ``UpdatePrices``
is started; Longhaul never starts it, so prices are exactly those of the pinned version.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import genai_prices
from genai_prices import Usage
from genai_prices.decompose import compute_leaf_values
from genai_prices.types import ModelInfo, ModelPrice, StartDateConstraint, TieredPrices
from genai_prices.units import _get_registry  # pinned version; the public API has no per-unit view

from longhaul.core.pricing.book import SHIPPED, PriceBook, PriceTableError
from longhaul.core.pricing.lines import TOKEN_KINDS, PricedLine, unpriced

log = logging.getLogger(__name__)

GENAI = f"genai-prices {genai_prices.__version__}"


def normalize_tier(tier: object) -> str:
    """The tier as genai-prices names it: auto/None is default; ``fast`` is reported as priority."""
    value = str(tier or "default").lower()
    if value == "auto":
        return "default"
    return "priority" if value == "fast" else value


def price_tokens(
    usage: Mapping[str, int],
    model: str,
    *,
    at: datetime,
    book: PriceBook,
    service_tier: str = "default",
    multiplier: Decimal | None = None,
    item_prefix: str = "tokens",
    kind_prefix: str = "",
    tool: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> list[PricedLine]:
    """Lines for one model's token usage (genai-prices usage keys) at request time ``at``."""
    counts = {k: int(v) for k, v in usage.items() if v}
    if not counts:
        return []
    day = at.astimezone(UTC).date()
    extra = dict(details or {})
    override = book.model_override(model, day)
    if override is not None:
        _check_keys(override.prices, override.origin)
        model_price = ModelPrice(**override.prices)
        shipped = override.origin == SHIPPED
        source = f"{'' if shipped else 'override '}{override.origin}: {override.source}"
        effective: date | None = override.effective_from
    else:
        try:
            calc = genai_prices.calc_price(
                Usage(**counts),
                model,
                provider_id="openai",
                genai_request_timestamp=at,
                price_context={"service_tier": service_tier},
            )
        except LookupError:
            reason = f"model {model!r} is not in {GENAI} nor in LONGHAUL_PRICES_FILE"
            return _unpriced(counts, reason, item_prefix, kind_prefix, tool, extra)
        except ValueError as exc:  # inconsistent usage (e.g. cached > input)
            return _unpriced(counts, f"invalid usage: {exc}", item_prefix, kind_prefix, tool, extra)
        model_price = calc.model_price
        modelled = _tier_modelled(calc.model, at, service_tier)
        source = f"{GENAI}: openai/{calc.model.id} service_tier={service_tier}"
        if not modelled:
            source += " (tier not modelled: standard price)"
            extra["tier_not_modelled"] = True
            extra["fallback"] = (
                f"service tier {service_tier} not modelled for {model}: standard price"
            )
        effective = _effective_from(calc.model, at, service_tier)

    lines = _leaf_lines(counts, model_price, multiplier, item_prefix, kind_prefix, tool)
    if override is None:
        _check_total(lines, calc.total_price, model)
    return [
        PricedLine(
            **{
                **line.__dict__,
                "price_source": source,
                "effective_from": effective,
                "details": {**extra, **line.details},
            }
        )
        for line in lines
    ]


def _leaf_lines(
    counts: dict[str, int],
    model_price: ModelPrice,
    multiplier: Decimal | None,
    item_prefix: str,
    kind_prefix: str,
    tool: str | None,
) -> list[PricedLine]:
    registry = _get_registry()
    priced = {
        unit.usage_key: unit
        for unit in registry.units.values()
        if getattr(model_price, unit.price_key) is not None and unit.usage_key != "requests"
    }
    usage = Usage(**counts)
    leaves = compute_leaf_values(set(priced), usage, priced)
    lines = []
    for usage_key, leaf in leaves.items():
        if not leaf:
            continue
        unit = priced[usage_key]
        price = getattr(model_price, unit.price_key)
        if isinstance(price, TieredPrices):  # cliff tiers on total input, as genai-prices does
            tier = next(
                (t for t in reversed(price.tiers) if counts.get("input_tokens", 0) > t.start), None
            )
            price = tier.price if tier else price.base
        list_price = Decimal(price)
        extra: dict[str, Any] = {}
        if multiplier is not None:
            extra = {"list_unit_price": str(list_price), "multiplier": str(multiplier)}
            list_price = list_price * multiplier
        family = unit.dimensions.get("family")
        lines.append(
            PricedLine(
                item=f"{item_prefix}:{usage_key}",
                kind=kind_prefix + TOKEN_KINDS.get(usage_key, usage_key),
                quantity=Decimal(leaf),
                unit="token" if family == "tokens" else usage_key,
                tool=tool,
                unit_price=list_price,
                per=unit.per,
                details=extra,
            )
        )
    return lines


def _unpriced(
    counts: dict[str, int],
    reason: str,
    item_prefix: str,
    kind_prefix: str,
    tool: str | None,
    details: dict[str, Any],
) -> list[PricedLine]:
    cached = counts.get("cache_read_tokens", 0)
    parts = {
        "input_tokens": counts.get("input_tokens", 0) - cached,
        "cache_read_tokens": cached,
        "output_tokens": counts.get("output_tokens", 0),
    }
    return [
        unpriced(
            f"{item_prefix}:{key}",
            kind_prefix + TOKEN_KINDS[key],
            Decimal(value),
            "token",
            reason,
            tool=tool,
            per=1_000_000,
            details=details,
        )
        for key, value in parts.items()
        if value > 0
    ]


def _tier_modelled(model: ModelInfo, at: datetime, tier: str) -> bool:
    if tier == "default":
        return True
    return any(
        v.when.get("service_tier") == tier and (v.constraint is None or v.constraint.active(at))
        for v in model.price_variants or ()
    )


def _effective_from(model: ModelInfo, at: datetime, tier: str) -> date | None:
    """Start date of the price that applied (conditional price or tier variant), if dated."""
    dates: list[date] = []
    if isinstance(model.prices, list):
        for conditional in reversed(model.prices):
            if conditional.constraint is None or conditional.constraint.active(at):
                if isinstance(conditional.constraint, StartDateConstraint):
                    dates.append(conditional.constraint.start_date)
                break
    for v in model.price_variants or ():
        constraint = v.constraint
        if (
            v.when.get("service_tier") == tier
            and isinstance(constraint, StartDateConstraint)
            and constraint.active(at)
        ):
            dates.append(constraint.start_date)
    return max(dates) if dates else None


def _check_keys(prices: Mapping[str, Decimal], origin: str) -> None:
    registry = _get_registry()
    known = {unit.price_key for unit in registry.units.values()}
    bad = sorted(set(prices) - known)
    if bad:
        raise PriceTableError(f"{origin}: unknown price keys {bad}; use genai-prices keys")


def _check_total(lines: list[PricedLine], total: Decimal, model: str) -> None:
    # The multiplier scales every line alike; compare list prices.
    ours = sum(
        (
            line.quantity
            * Decimal(line.details.get("list_unit_price") or line.unit_price or 0)
            / line.per
            for line in lines
        ),
        Decimal(0),
    )
    if ours != total:
        log.warning("token lines for %s add up to %s, genai-prices says %s", model, ours, total)

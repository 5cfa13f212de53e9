"""The price book: Longhaul's dated tool-fee table plus the user's overrides file.

Token prices come from genai-prices (``tokens.py``); everything it lacks lives here. Rows carry
``effective_from``/``effective_to`` (inclusive UTC dates); overrides (``LONGHAUL_PRICES_FILE``,
TOML or JSON, same schema plus ``[models."name"]``) are searched before the shipped rows.
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).parent / "data" / "tool_fees.toml"
SHIPPED = "longhaul tool_fees.toml"


class PriceTableError(ValueError):
    """The shipped table or the overrides file is malformed."""


@dataclass(frozen=True)
class FeeRow:
    tool: str
    key: str
    unit: str
    price: Decimal
    per: int
    effective_from: date
    effective_to: date | None
    source: str
    checked_on: date | None
    origin: str  # SHIPPED or the overrides file path
    minimum: Decimal | None = None

    def in_effect(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


@dataclass(frozen=True)
class Dated:
    """A dated non-fee value: a completion-window multiplier or a default model."""

    key: str
    value: str
    effective_from: date
    effective_to: date | None
    source: str
    origin: str

    def in_effect(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


@dataclass(frozen=True)
class ModelOverride:
    """User prices for a model (genai-prices price keys, e.g. ``input_mtok``) — checked first."""

    pattern: str
    prices: dict[str, Decimal]
    effective_from: date
    effective_to: date | None
    source: str
    origin: str


@dataclass
class PriceBook:
    fees: list[FeeRow] = field(default_factory=list)
    discounts: list[Dated] = field(default_factory=list)
    image_default_models: list[Dated] = field(default_factory=list)
    output_caps: list[Dated] = field(default_factory=list)  # key: model pattern
    models: list[ModelOverride] = field(default_factory=list)
    reasoning_patterns: tuple[str, ...] = ()

    def fee(self, tool: str, key: str, day: date) -> FeeRow | None:
        return next(
            (r for r in self.fees if r.tool == tool and r.key == key and r.in_effect(day)), None
        )

    def discount(self, window: str, day: date) -> Dated | None:
        return next((d for d in self.discounts if d.key == window and d.in_effect(day)), None)

    def image_default_model(self, day: date) -> Dated | None:
        return next((d for d in self.image_default_models if d.in_effect(day)), None)

    def output_cap(self, model: str, day: date) -> int | None:
        """Most output tokens a model may produce (budget holds), if the table knows it."""
        name = model.lower()
        cap = next(
            (
                c
                for c in self.output_caps
                if fnmatch.fnmatchcase(name, c.key.lower()) and c.in_effect(day)
            ),
            None,
        )
        return int(cap.value) if cap else None

    def model_override(self, model: str, day: date) -> ModelOverride | None:
        name = model.lower()
        return next(
            (
                m
                for m in self.models
                if fnmatch.fnmatchcase(name, m.pattern.lower())
                and m.effective_from <= day
                and (m.effective_to is None or day <= m.effective_to)
            ),
            None,
        )

    def is_reasoning(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model.lower(), p) for p in self.reasoning_patterns)


def load_price_book(overrides: Path | None = None) -> PriceBook:
    """The shipped table, with the rows of ``overrides`` (if given) taking precedence."""
    book = PriceBook()
    if overrides is not None:
        _merge(book, _read(overrides), str(overrides))
    _merge(book, _read(DATA_FILE), SHIPPED)
    return book


def get_price_book() -> PriceBook:
    """The price book for ``LONGHAUL_PRICES_FILE`` (re-read when the file changes)."""
    from longhaul.core.config import get_settings

    path = get_settings().prices_file
    mtime = path.stat().st_mtime_ns if path is not None and path.exists() else None
    return _cached_book(path, mtime)


@lru_cache(maxsize=4)
def _cached_book(path: Path | None, mtime: int | None) -> PriceBook:
    if path is not None and mtime is None:
        raise PriceTableError(f"LONGHAUL_PRICES_FILE {path} does not exist")
    return load_price_book(path)


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
        is_json = path.suffix.lower() == ".json"
        data = json.loads(raw) if is_json else tomllib.loads(raw.decode())
    except (OSError, ValueError) as exc:
        raise PriceTableError(f"cannot read price table {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise PriceTableError(f"price table {path} must be a table/object")
    return data


def _merge(book: PriceBook, data: dict[str, Any], origin: str) -> None:
    try:
        for row in data.get("fees", []):
            book.fees.append(
                FeeRow(
                    tool=str(row["tool"]),
                    key=str(row["key"]),
                    unit=str(row["unit"]),
                    price=_dec(row["price"]),
                    per=int(row.get("per", 1)),
                    minimum=_dec(row["minimum"]) if row.get("minimum") is not None else None,
                    effective_from=_day(row.get("effective_from", "1970-01-01")),
                    effective_to=_day(row["effective_to"]) if row.get("effective_to") else None,
                    source=str(row.get("source", origin)),
                    checked_on=_day(row["checked_on"]) if row.get("checked_on") else None,
                    origin=origin,
                )
            )
        for section, target, value_key, key_key in (
            ("discounts", book.discounts, "multiplier", "window"),
            ("image_default_models", book.image_default_models, "model", "model"),
            ("output_caps", book.output_caps, "max_output_tokens", "model"),
        ):
            for row in data.get(section, []):
                value = str(row[value_key])
                if section == "discounts":
                    _dec(value)
                target.append(
                    Dated(
                        key=str(row[key_key]),
                        value=value,
                        effective_from=_day(row.get("effective_from", "1970-01-01")),
                        effective_to=_day(row["effective_to"]) if row.get("effective_to") else None,
                        source=str(row.get("source", origin)),
                        origin=origin,
                    )
                )
        for pattern, row in (data.get("models") or {}).items():
            meta = {"effective_from", "effective_to", "source", "checked_on"}
            book.models.append(
                ModelOverride(
                    pattern=str(pattern),
                    prices={k: _dec(v) for k, v in row.items() if k not in meta},
                    effective_from=_day(row.get("effective_from", "1970-01-01")),
                    effective_to=_day(row["effective_to"]) if row.get("effective_to") else None,
                    source=str(row.get("source", origin)),
                    origin=origin,
                )
            )
        families = data.get("families") or {}
        book.reasoning_patterns += tuple(str(p).lower() for p in families.get("reasoning", []))
    except (KeyError, TypeError, ValueError) as exc:
        raise PriceTableError(f"malformed price table {origin}: {exc!r}") from exc


def _dec(value: object) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # TOML/JSON floats: keep the written digits, not binary noise
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise PriceTableError(f"not a number: {value!r}") from exc
    if not result.is_finite() or result < 0:
        raise PriceTableError(f"not a price: {value!r}")
    return result


def _day(value: object) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))

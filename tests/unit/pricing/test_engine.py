"""Token lines agree with genai-prices' own totals; no network; table loading and overrides."""

from __future__ import annotations

import itertools
import socket
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import genai_prices
import pytest
from genai_prices import Usage, data_snapshot

from longhaul.core.pricing import PriceTableError, load_price_book, price_response
from longhaul.core.pricing.book import DATA_FILE, _read
from longhaul.core.pricing.tokens import price_tokens

AT = datetime(2026, 11, 2, tzinfo=UTC)
BOOK = load_price_book()


@pytest.mark.parametrize(
    ("model", "tier", "counts"),
    [
        (
            "gpt-5",
            "default",
            {"input_tokens": 9_000, "cache_read_tokens": 1_280, "output_tokens": 700},
        ),
        (
            "o3",
            "flex",
            {"input_tokens": 50_000, "cache_read_tokens": 40_000, "output_tokens": 9_999},
        ),
        ("gpt-4o", "priority", {"input_tokens": 3, "output_tokens": 7}),
        # gpt-5.5 has cliff tiers above 272K input tokens
        (
            "gpt-5.5",
            "default",
            {"input_tokens": 300_000, "cache_read_tokens": 100_000, "output_tokens": 20_000},
        ),
        ("gpt-5.5", "default", {"input_tokens": 200_000, "output_tokens": 20_000}),
        (
            "gpt-image-1",
            "default",
            {"input_tokens": 1_000, "input_image_tokens": 600, "output_tokens": 4_160},
        ),
    ],
)
def test_lines_add_up_to_genai_prices_total(model: str, tier: str, counts: dict) -> None:
    lines = price_tokens(counts, model, at=AT, book=BOOK, service_tier=tier)
    exact = sum((line.quantity * line.unit_price / line.per for line in lines), D(0))
    expected = genai_prices.calc_price(
        Usage(**counts),
        model,
        provider_id="openai",
        genai_request_timestamp=AT,
        price_context={"service_tier": tier},
    ).total_price
    assert exact == expected
    assert (
        sum(line.quantity for line in lines if line.kind.startswith(("input", "cached")))
        <= (counts["input_tokens"])
    )


def test_tiered_price_applies_above_the_threshold() -> None:
    lines = price_tokens({"input_tokens": 300_000, "output_tokens": 1}, "gpt-5.5", at=AT, book=BOOK)
    small = price_tokens({"input_tokens": 200_000, "output_tokens": 1}, "gpt-5.5", at=AT, book=BOOK)
    assert lines[0].unit_price > small[0].unit_price


def test_pricing_works_with_the_network_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pricing tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    response = {"model": "gpt-5", "usage": {"input_tokens": 10, "output_tokens": 10}}
    priced = price_response(response, requested_at=AT, book=load_price_book())
    assert sum(line.amount for line in priced.lines) == D("0.000113")  # 10*1.25/M + 10*10/M
    assert data_snapshot._custom_snapshot is None  # UpdatePrices was never started


def test_shipped_table_rows_are_dated_and_sourced() -> None:
    raw = _read(DATA_FILE)
    assert raw["fees"] and raw["discounts"]
    for row in raw["fees"] + raw["discounts"] + raw["image_default_models"]:
        assert row["effective_from"] and row["source"] and row["checked_on"], row
    # container eras do not overlap for any memory tier
    for memory in ("1g", "4g", "16g", "64g"):
        rows = sorted(
            (r for r in BOOK.fees if r.tool == "container" and r.key == memory),
            key=lambda r: r.effective_from,
        )
        for a, b in itertools.pairwise(rows):
            assert a.effective_to is not None and a.effective_to < b.effective_from


def test_json_overrides_and_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "p.json"
    good.write_text('{"models": {"ft:gpt-4o-mini:acme*": {"input_mtok": 0.3, "output_mtok": 1.2}}}')
    book = load_price_book(good)
    lines = price_tokens(
        {"input_tokens": 1_000_000, "output_tokens": 0}, "ft:gpt-4o-mini:acme:x1", at=AT, book=book
    )
    assert [(line.unit_price, line.amount) for line in lines] == [(D("0.3"), D("0.300000"))]

    bad = tmp_path / "bad.toml"
    bad.write_text('[[fees]]\ntool = "web_search"\nprice = "10"\n')  # no key/unit
    with pytest.raises(PriceTableError):
        load_price_book(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('[models."m"]\ninput_per_mtok = "1"\n')
    with pytest.raises(PriceTableError):
        price_tokens({"input_tokens": 5}, "m", at=AT, book=load_price_book(typo))
    negative = tmp_path / "neg.toml"
    negative.write_text('[models."m"]\ninput_mtok = "-1"\n')
    with pytest.raises(PriceTableError):
        load_price_book(negative)

"""Charts as server-drawn SVG geometry (no chart script, nothing inline to allow in the CSP)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from longhaul.api.ui import render

PALETTE = 8  # series colours sc0..sc7 in app.css
WIDTH, HEIGHT, PAD = 640, 180, 24


def stacked_days(
    rows: list[dict[str, Any]], key: str, days: list[date], none_label: str = "—"
) -> dict[str, Any]:
    """Spend per day stacked by ``key`` (model or tool): bars, legend and the scale."""
    series: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        name = str(row.get(key) or none_label)
        series.setdefault(name, {})[str(row["day"])] = Decimal(row["cost_usd"])
    names = sorted(series, key=lambda n: -sum(series[n].values()))
    totals = {
        d.isoformat(): sum((series[n].get(d.isoformat(), Decimal(0)) for n in names), Decimal(0))
        for d in days
    }
    top = max(totals.values(), default=Decimal(0))
    slot = (WIDTH - PAD) / max(1, len(days))
    bar = max(2.0, slot * 0.7)
    bars = []
    for i, d in enumerate(days):
        y = float(HEIGHT - PAD)
        for n, name in enumerate(names):
            value = series[name].get(d.isoformat(), Decimal(0))
            if not value or not top:
                continue
            h = float(value / top) * (HEIGHT - 2 * PAD)
            y -= h
            bars.append(
                {
                    "x": round(PAD + i * slot, 1),
                    "y": round(y, 1),
                    "w": round(bar, 1),
                    "h": round(max(h, 0.5), 1),
                    "c": n % PALETTE,
                    "title": f"{d.isoformat()} · {name}: {render.money(value)}",
                }
            )
    ticks = [
        {"x": round(PAD + i * slot, 1), "label": d.strftime("%m-%d")}
        for i, d in enumerate(days)
        if len(days) <= 8 or i % max(1, len(days) // 6) == 0
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "base": HEIGHT - PAD,
        "pad": PAD,
        "bars": bars,
        "ticks": ticks,
        "top": render.money(top) if top else "$0",
        "legend": [{"name": name, "c": n % PALETTE} for n, name in enumerate(names)],
    }


def gauge(spent: Decimal, budget: Decimal | None) -> dict[str, Any]:
    """This month's spend against the budget: a half-circle arc and the numbers."""
    if budget is None or budget <= 0:
        return {"spent": render.money(spent), "budget": None, "pct": None}
    pct = min(float(spent / budget), 1.0)
    import math

    angle = math.pi * (1 - pct)
    r, cx, cy = 80, 100, 95
    x, y = cx + r * math.cos(angle), cy - r * math.sin(angle)
    return {
        "spent": render.money(spent),
        "budget": render.money(budget),
        "pct": round(pct * 100, 1),
        "arc": f"M {cx - r} {cy} A {r} {r} 0 0 1 {x:.1f} {y:.1f}",
        "track": f"M {cx - r} {cy} A {r} {r} 0 0 1 {cx + r} {cy}",
        "level": "over" if spent >= budget else ("warn" if pct >= 0.8 else "ok"),
    }

"""Usage reports: cost, tokens and tool calls from the ledger, grouped by
day/model/tool/tenant/upstream.

A line counts on the UTC day its ledger was written (when the job finished). Token totals are the
host model's (lines without a tool); tool calls are billed search calls, containers and images.
``fallback_lines`` counts lines priced by a fallback (an unmodelled service tier at standard).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, case, cast, distinct, func, or_, select
from sqlalchemy.orm import Session

from longhaul.core.errors import InvalidInput
from longhaul.core.models import Tenant, Upstream
from longhaul.core.models.costs import LedgerLine

GROUPS = ("day", "model", "tool", "tenant", "upstream")
DEFAULT_UPSTREAM = "default"  # the environment's upstream in reports
FIELDS = (
    "cost_usd",
    "unpriced_lines",
    "fallback_lines",
    "jobs",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "tool_calls",
)


def parse_group_by(value: str | Sequence[str] | None) -> list[str]:
    parts = value.split(",") if isinstance(value, str) else list(value or [])
    groups = [p.strip() for p in parts if p.strip()]
    bad = [g for g in groups if g not in GROUPS]
    if bad:
        raise InvalidInput(
            f"Invalid group_by {bad}: choose from {', '.join(GROUPS)}.", param="group_by"
        )
    return list(dict.fromkeys(groups))


def _sum_if(condition: Any) -> Any:
    return func.coalesce(func.sum(LedgerLine.quantity).filter(condition), 0)


# Tool calls a line stands for: its ``calls`` detail (image-token lines carry the image count),
# else search calls by quantity, one per container or per-image line.
_calls = case(
    (LedgerLine.details.has_key("calls"), LedgerLine.details["calls"].as_integer()),
    (LedgerLine.unit == "call", LedgerLine.quantity),
    (LedgerLine.kind.in_(("container", "images")), 1),
    else_=0,
)


FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)  # the day after stays a date


def usage_report(
    session: Session,
    *,
    start: date,
    end: date,
    group_by: Sequence[str] = (),
    tenant_id: str | None = None,
) -> list[dict[str, Any]]:
    """Rows for ``start`` ≤ day ≤ ``end`` (UTC), one per group; ``tenant_id=None`` = all tenants."""
    for name, value in (("start", start), ("end", end)):
        if not FIRST_DAY <= value <= LAST_DAY:
            raise InvalidInput(
                f"'{name}' must be between {FIRST_DAY} and {LAST_DAY}.",
                param=name,
                code="invalid_value",
            )
    if end < start:
        raise InvalidInput("'end' is before 'start'.", param="end")
    groups = parse_group_by(group_by)
    lo = datetime.combine(start, time.min, UTC)
    hi = datetime.combine(end + timedelta(days=1), time.min, UTC)
    day = cast(func.timezone("UTC", LedgerLine.created_at), Date)
    columns: dict[str, Any] = {
        "day": day,
        "model": LedgerLine.model,
        "tool": LedgerLine.tool,
        "tenant": Tenant.name,
        # the upstream's name (its id once removed); the environment's: "default"
        "upstream": func.coalesce(Upstream.name, LedgerLine.upstream_id, DEFAULT_UPSTREAM),
    }
    keys = [columns[g].label(g) for g in groups]
    host = LedgerLine.tool.is_(None) & (LedgerLine.unit == "token")
    stmt = (
        select(
            *keys,
            func.coalesce(func.sum(LedgerLine.amount), 0).label("cost_usd"),
            func.count().filter(LedgerLine.status == "unpriced").label("unpriced_lines"),
            func.count()
            .filter(
                LedgerLine.details.has_key("fallback")
                | LedgerLine.details.has_key("tier_not_modelled")
            )
            .label("fallback_lines"),
            func.count(distinct(LedgerLine.job_id)).label("jobs"),
            _sum_if(
                host & or_(LedgerLine.kind.like("input%"), LedgerLine.kind.like("cache%"))
            ).label("input_tokens"),
            _sum_if(host & (LedgerLine.kind == "cached_input_tokens")).label("cached_input_tokens"),
            _sum_if(
                host & or_(LedgerLine.kind.like("output%"), LedgerLine.kind.like("reasoning%"))
            ).label("output_tokens"),
            func.coalesce(func.sum(_calls), 0).label("tool_calls"),
        )
        .join(Tenant, Tenant.id == LedgerLine.tenant_id)
        .outerjoin(Upstream, Upstream.id == LedgerLine.upstream_id)
        .where(LedgerLine.created_at >= lo, LedgerLine.created_at < hi)
    )
    if tenant_id is not None:
        stmt = stmt.where(LedgerLine.tenant_id == tenant_id)
    if keys:
        stmt = stmt.group_by(*keys).order_by(*keys)
    rows = []
    for row in session.execute(stmt).mappings():
        if not keys and not row["jobs"]:
            continue
        out: dict[str, Any] = {g: _plain(row[g]) for g in groups}
        out["cost_usd"] = f"{Decimal(row['cost_usd']):.6f}"
        for name in FIELDS[1:]:
            out[name] = int(row[name])
        rows.append(out)
    return rows


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def total_cost(rows: Sequence[dict[str, Any]]) -> str:
    return f"{sum((Decimal(r['cost_usd']) for r in rows), Decimal(0)):.6f}"


def to_csv(rows: Sequence[dict[str, Any]], groups: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*groups, *FIELDS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def month_start(now: datetime | None = None) -> date:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).date().replace(day=1)

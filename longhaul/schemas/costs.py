"""The cost ledger as views show it, and the ``GET /v1/usage`` report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from longhaul.schemas.common import Money, Timestamp


class CostLine(BaseModel):
    """One priced item: tokens of a kind, a tool's calls, a container session, images."""

    item: str
    kind: str
    tool: str | None
    quantity: str = Field(description="Decimal string.")
    unit: str
    unit_price: str | None = Field(description="Decimal string, USD per ``per`` units.")
    per: int | None
    amount: Money | None
    status: str
    unpriced_reason: str | None
    fallback: str | None
    price_source: str | None
    effective_from: Timestamp | None


class LineNote(BaseModel):
    item: str
    kind: str
    reason: str | None


class CostSummary(BaseModel):
    """A job's ledger: the total, its split by kind and tool, and every line."""

    currency: Literal["USD"] = "USD"
    total: Money
    complete: bool = Field(description="False when a line is unpriced or priced by a fallback.")
    model: str | None
    service_tier: str | None
    completion_window: str | None
    by_kind: dict[str, Money]
    by_tool: dict[str, Money]
    unpriced: list[LineNote]
    fallbacks: list[LineNote]
    unattributed: list[str]
    lines: list[CostLine]


class UsageRow(BaseModel):
    """One group of the report; the grouping keys present are those asked for."""

    day: str | None = Field(None, description="UTC day, ISO date (grouped by day).")
    model: str | None = None
    tool: str | None = None
    tenant: str | None = None
    cost_usd: Money
    unpriced_lines: int
    fallback_lines: int
    jobs: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    tool_calls: int


class UsageReport(BaseModel):
    object: Literal["list"] = "list"
    start: str = Field(description="First UTC day, ISO date.")
    end: str = Field(description="Last UTC day, inclusive.")
    group_by: list[str]
    currency: Literal["USD"] = "USD"
    total_cost_usd: Money
    data: list[UsageRow]

"""Cost ledger: one line per priced item of a job, written once in finalize."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from longhaul.core.models.base import Base, utcnow


class LedgerLine(Base):
    """``amount = quantity * unit_price / per`` rounded to 1e-6 USD; NULL when unpriced."""

    __tablename__ = "ledger_lines"
    __table_args__ = (
        UniqueConstraint("job_id", "item"),
        Index("ix_ledger_lines_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    tool: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    service_tier: Mapped[str | None] = mapped_column(String(20))
    completion_window: Mapped[str | None] = mapped_column(String(20))
    upstream_id: Mapped[str | None] = mapped_column(String(40))  # NULL: the environment's
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    unit: Mapped[str] = mapped_column(String(32))
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(20, 9))
    per: Mapped[int] = mapped_column(Integer, default=1)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 9))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    status: Mapped[str] = mapped_column(String(16))  # priced | unpriced
    unpriced_reason: Mapped[str | None] = mapped_column(Text)
    price_source: Mapped[str | None] = mapped_column(Text)
    effective_from: Mapped[date | None] = mapped_column(Date)
    priced_at: Mapped[datetime]  # the request time the prices were looked up for
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantMonthSpend(Base):
    """Priced spend per tenant and UTC calendar month, kept in step with ``ledger_lines`` in
    the ledger's own transaction, so budget checks and job views read one row."""

    __tablename__ = "tenant_month_spend"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # first day of the month
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 9), default=0)


class BudgetAlert(Base):
    """A budget threshold reached by a tenant in a UTC month: at most one row (and so one
    ``budget.threshold_reached`` event) per tenant, month and threshold."""

    __tablename__ = "budget_alerts"
    __table_args__ = (UniqueConstraint("tenant_id", "month", "threshold"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)  # first day of the month
    threshold: Mapped[Decimal] = mapped_column(Numeric(8, 4))  # fraction of the budget
    budget_usd: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    spent_usd: Mapped[Decimal] = mapped_column(Numeric(20, 9))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    event_id: Mapped[str | None] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BudgetHold(Base):
    """What a job may cost at most, reserved against its tenant's budget at submit. It counts
    while the job is active (queued … finalizing) and is released when the job ends."""

    __tablename__ = "budget_holds"
    __table_args__ = (
        Index(
            "ix_budget_holds_open",
            "tenant_id",
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 9))
    estimate: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]  # when the job ended (its ledger, or seen ended)


class TenantHoldTotal(Base):
    """Running totals of a tenant's holds: ``admitted`` (every hold ever made) and ``released``
    (every hold ever released); the open holds are their difference. Two rows, so admissions
    (which lock ``admitted``) and finalizers (which lock ``released``) never wait on each other;
    both are moved in the transactions that make or release a hold."""

    __tablename__ = "tenant_hold_totals"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    side: Mapped[str] = mapped_column(String(10), primary_key=True)  # admitted | released
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 9), default=0)

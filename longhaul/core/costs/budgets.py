"""Monthly budgets per tenant: new jobs are refused once this month's spend reaches the budget.

Spend is the sum of priced ledger lines written this UTC calendar month (a job counts when it
finishes; running jobs are not counted and are never stopped). Unpriced lines count as zero.
The sum is kept in ``tenant_month_spend``, updated in the ledger's own transaction
(``add_spend``), so a budget check or a job view reads one row however long the history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core.auth import get_or_create_tenant
from longhaul.core.costs.money import dollars
from longhaul.core.costs.usage import month_start
from longhaul.core.errors import BudgetExceeded, InvalidInput
from longhaul.core.models import Tenant
from longhaul.core.models.costs import TenantMonthSpend


def month_spend(session: Session, tenant_id: str, *, now: datetime | None = None) -> Decimal:
    """Priced spend of ``tenant_id`` since the start of the current UTC month (one row)."""
    total = session.execute(
        select(TenantMonthSpend.amount).where(
            TenantMonthSpend.tenant_id == tenant_id, TenantMonthSpend.month == month_start(now)
        )
    ).scalar_one_or_none()
    return Decimal(total or 0)


def add_spend(session: Session, lines: Iterable[tuple[str, datetime, Decimal | None]]) -> None:
    """Add newly inserted ledger lines ``(tenant_id, created_at, amount)`` to the monthly rollup
    (flush only: call it in the transaction that inserted them, with exactly those lines)."""
    totals: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for tenant_id, created_at, amount in lines:
        if amount is not None:
            totals[(tenant_id, month_start(created_at))] += amount
    if not totals:
        return
    stmt = insert(TenantMonthSpend).values(
        [{"tenant_id": t, "month": m, "amount": a} for (t, m), a in sorted(totals.items())]
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "month"],
            set_={"amount": TenantMonthSpend.amount + stmt.excluded.amount},
        )
    )


def check_budget(session: Session, tenant: Tenant) -> None:
    """Raise ``BudgetExceeded`` when the tenant has a budget and this month's spend reached it."""
    budget = tenant.monthly_budget_usd
    if budget is None:
        return
    spent = month_spend(session, tenant.id)
    if spent >= budget:
        raise BudgetExceeded(
            f"Monthly budget exhausted: ${spent:.6f} spent of {dollars(budget)} this month "
            "(UTC). New jobs are refused until the budget is raised or the month ends; "
            "running jobs continue.",
            code="budget_exceeded",
        )


def set_budget(session: Session, *, tenant_name: str, usd: Decimal | None) -> Tenant:
    """Set (or with ``None`` clear) a tenant's monthly budget; the tenant is created if new."""
    if usd is not None and (not usd.is_finite() or usd < 0):
        raise InvalidInput("The budget must be a non-negative amount in USD.", param="usd")
    tenant = get_or_create_tenant(session, tenant_name)
    session.execute(update(Tenant).where(Tenant.id == tenant.id).values(monthly_budget_usd=usd))
    session.refresh(tenant)
    return tenant

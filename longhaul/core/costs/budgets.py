"""Monthly budgets per tenant: new jobs are refused once this month's spend reaches the budget.

Spend is the sum of priced ledger lines written this UTC calendar month (a job counts when it
finishes; running jobs are not counted and are never stopped). Unpriced lines count as zero.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from longhaul.core.auth import get_or_create_tenant
from longhaul.core.costs.money import dollars
from longhaul.core.costs.usage import month_start
from longhaul.core.errors import BudgetExceeded, InvalidInput
from longhaul.core.models import Tenant
from longhaul.core.models.costs import LedgerLine


def month_spend(session: Session, tenant_id: str, *, now: datetime | None = None) -> Decimal:
    """Priced spend of ``tenant_id`` since the start of the current UTC month."""
    since = datetime.combine(month_start(now), time.min, UTC)
    total = session.execute(
        select(func.coalesce(func.sum(LedgerLine.amount), 0)).where(
            LedgerLine.tenant_id == tenant_id, LedgerLine.created_at >= since
        )
    ).scalar_one()
    return Decimal(total or 0)


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

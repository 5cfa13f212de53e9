"""Budget pre-authorization: at submit, hold a job's maximum cost against its tenant's budget.

With ``LONGHAUL_BUDGET_MODE=hold`` (the default) a new job is admitted only if this month's
spend, plus the holds of the tenant's running jobs, plus this job's maximum cost
(``core/pricing/estimate.py``) fits the budget; otherwise it is refused (402) before it is stored
or sent upstream. The check and the hold run under the tenant row's lock in the intake
transaction, so concurrent submissions of one tenant cannot both take the last dollars. A hold
counts while its job is active and is released when the job's ledger is written (the spend then
takes its place in the same transaction), or, for jobs that end without a ledger (cancelled
while queued, refused upstream), when the next check sees them ended. Reads are bounded by the
tenant's running jobs (partial index on open holds), not by its history.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core.config import Settings, get_settings
from longhaul.core.costs.budgets import check_budget
from longhaul.core.costs.money import dollars
from longhaul.core.costs.usage import month_start
from longhaul.core.errors import BudgetExceeded
from longhaul.core.jobs.lifecycle import ACTIVE
from longhaul.core.models import Job, Tenant, utcnow
from longhaul.core.models.costs import BudgetHold, TenantMonthSpend
from longhaul.core.pricing.estimate import Estimate, estimate_max_cost


def hold_budget(
    session: Session, tenant: Tenant, job: Job, settings: Settings | None = None
) -> Decimal | None:
    """Admit ``job`` (just inserted, flushed) against the budget or raise ``BudgetExceeded``;
    returns the amount held. Three statements: lock, read, insert."""
    settings = settings or get_settings()
    if tenant.monthly_budget_usd is None:
        return None
    if settings.budget_mode == "spent-only":
        check_budget(session, tenant)
        return None
    # One admission at a time per tenant: the sum below and the new hold are one step. NO KEY
    # UPDATE, because the job just inserted holds KEY SHARE on this row (its foreign key): a
    # plain FOR UPDATE would deadlock two admissions.
    budget = session.execute(
        select(Tenant.monthly_budget_usd)
        .where(Tenant.id == tenant.id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE on PostgreSQL
    ).scalar_one()
    if budget is None:
        return None
    estimate = _estimate(session, job, settings)
    # a new statement after the lock: it sees what the admissions before this one committed
    spent, held = _spent_and_held(session, tenant.id)
    amount = estimate.amount
    if amount is None:  # an unpriced model: nothing to hold, today's spent-only rule applies
        check_budget(session, tenant)
        amount = Decimal(0)
    if spent + held + amount > budget:
        left = max(budget - spent - held, Decimal(0))
        raise BudgetExceeded(
            f"Budget hold refused: this job may cost up to {dollars(amount)} "
            f"(input ≤ {estimate.input_tokens:,} tokens, "
            f"output ≤ {estimate.output_tokens or 0:,} tokens, "
            f"tools {dollars(_tools(estimate))}); "
            f"this month (UTC) {dollars(spent)} is spent and {dollars(held)} held by running "
            f"jobs of {dollars(budget)}, leaving "
            f"{dollars(left)}. Set max_output_tokens or max_tool_calls to hold less, wait for "
            "running jobs, or raise the budget.",
            code="budget_exceeded",
        )
    session.execute(
        insert(BudgetHold)
        .values(
            job_id=job.id,
            tenant_id=tenant.id,
            amount=amount,
            estimate=estimate.view(),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["job_id"])
    )
    return amount


def open_holds(session: Session, tenant_id: str) -> Decimal:
    """Holds of the tenant's active jobs; holds of jobs seen ended are released on the way."""
    return _spent_and_held(session, tenant_id)[1]


def _spent_and_held(session: Session, tenant_id: str) -> tuple[Decimal, Decimal]:
    """This month's spend (the rollup row) and the open holds of active jobs, in one statement;
    holds of jobs seen ended are released on the way."""
    active = Job.status.in_(ACTIVE)
    spend = (
        select(TenantMonthSpend.amount)
        .where(TenantMonthSpend.tenant_id == tenant_id, TenantMonthSpend.month == month_start())
        .scalar_subquery()
    )
    held, ended, spent = session.execute(
        select(
            func.coalesce(func.sum(BudgetHold.amount).filter(active), 0),
            func.array_agg(BudgetHold.job_id).filter(~active),
            spend,
        )
        .select_from(BudgetHold)
        .join(Job, Job.id == BudgetHold.job_id)
        .where(BudgetHold.tenant_id == tenant_id, BudgetHold.released_at.is_(None))
    ).one()
    if ended:
        release_holds(session, list(ended))
    return Decimal(spent or 0), Decimal(held)


def release_holds(session: Session, job_ids: list[str]) -> None:
    session.execute(
        update(BudgetHold)
        .where(BudgetHold.job_id.in_(job_ids), BudgetHold.released_at.is_(None))
        .values(released_at=func.now())
    )


def hold_view(session: Session, job_id: str) -> dict[str, Any] | None:
    """The job's hold for its view: amount, estimate, and whether it still counts."""
    hold = session.get(BudgetHold, job_id)
    if hold is None:
        return None
    return {
        "amount_usd": f"{hold.amount:.6f}",
        "status": "released" if hold.released_at else "held",
        "released_at": hold.released_at.isoformat() if hold.released_at else None,
        "estimate": hold.estimate,
    }


def _estimate(session: Session, job: Job, settings: Settings) -> Estimate:
    prior = 0
    if job.previous_job_id:  # the predecessor's context is billed again as input
        usage = session.execute(
            select(Job.usage).where(Job.id == job.previous_job_id)
        ).scalar_one_or_none()
        if usage:
            prior = int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
    return estimate_max_cost(
        job.request_body or {},
        at=job.created_at,
        completion_window=job.completion_window,
        prior_tokens=prior,
        default_tool_calls=settings.budget_hold_tool_calls,
    )


def _tools(estimate: Estimate) -> Decimal:
    return sum(
        (Decimal(estimate.parts.get(k, "0")) for k in ("tool_calls", "containers")), Decimal(0)
    )

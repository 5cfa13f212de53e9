"""Budget pre-authorization: at submit, hold a job's maximum cost against its tenant's budget.

With ``LONGHAUL_BUDGET_MODE=hold`` (the default) a new job is admitted only if this month's
spend, plus the holds of the tenant's running jobs, plus this job's maximum cost
(``core/pricing/estimate.py``) fits the budget; otherwise it is refused (402) before it is stored
or sent upstream. The check and the hold are one statement on the tenant's running total of
holds (``tenant_hold_totals``), so concurrent submissions of one tenant cannot both take the last
dollars, and an admission costs the same with 10 or 10,000 running jobs. A hold counts while its
job is active and is released when the job ends, in finalize's transaction (with a ledger, the
spend takes its place in that same transaction); the sweep's reconcile releases any hold a job
that ended somehow kept (``release_ended``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, bindparam, select, text
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session

from longhaul.core.config import Settings, get_settings
from longhaul.core.costs.budgets import check_budget, month_spend
from longhaul.core.costs.money import dollars
from longhaul.core.costs.usage import month_start
from longhaul.core.errors import BudgetExceeded
from longhaul.core.jobs.lifecycle import ACTIVE
from longhaul.core.models import Job, Tenant
from longhaul.core.models.costs import BudgetHold, TenantHoldTotal
from longhaul.core.pricing.estimate import Estimate, estimate_max_cost


def hold_budget(
    session: Session, tenant: Tenant, job: Job, settings: Settings | None = None
) -> Decimal | None:
    """Admit ``job`` (just inserted, flushed) against the budget or raise ``BudgetExceeded``;
    returns the amount held. One statement checks and takes the hold (``_admit``); a refusal
    reads the figures for its message."""
    settings = settings or get_settings()
    if tenant.monthly_budget_usd is None:
        return None
    if settings.budget_mode == "spent-only":
        check_budget(session, tenant)
        return None
    estimate = _estimate(session, job, settings)
    amount = estimate.amount
    if amount is None:  # an unpriced model: nothing to hold, today's spent-only rule applies
        check_budget(session, tenant)
        amount = Decimal(0)
    if _admit(session, tenant.id, job.id, amount, estimate.view()):
        return amount
    budget = session.execute(
        select(Tenant.monthly_budget_usd).where(Tenant.id == tenant.id)
    ).scalar_one()
    if budget is None:  # the budget was removed meanwhile: nothing to hold against
        return None
    spent, held = month_spend(session, tenant.id), open_holds(session, tenant.id)
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


# Adds the hold to the tenant's admitted total only if spend + open holds + this hold fit the
# budget, and inserts the job's hold row in the same statement. The UPDATE locks the tenant's
# ``admitted`` row until the intake commits, so concurrent admissions of one tenant take turns
# on that row only (PostgreSQL re-checks the condition against the row a competitor committed).
_ADMIT = text(
    """
    WITH admitted AS (
        UPDATE tenant_hold_totals AS t
        SET amount = t.amount + :amount
        WHERE t.tenant_id = :tenant AND t.side = 'admitted'
          AND t.amount + :amount
              - coalesce((SELECT r.amount FROM tenant_hold_totals r
                          WHERE r.tenant_id = :tenant AND r.side = 'released'), 0)
              + coalesce((SELECT s.amount FROM tenant_month_spend s
                          WHERE s.tenant_id = :tenant AND s.month = :month), 0)
              <= (SELECT b.monthly_budget_usd FROM tenants b WHERE b.id = :tenant)
        RETURNING t.tenant_id
    )
    INSERT INTO budget_holds (job_id, tenant_id, amount, estimate, created_at)
    SELECT :job, tenant_id, :amount, :estimate, now() FROM admitted
    RETURNING job_id
    """
).bindparams(bindparam("estimate", type_=JSONB), bindparam("amount", type_=Numeric(20, 9)))


def _admit(
    session: Session, tenant_id: str, job_id: str, amount: Decimal, estimate: dict[str, Any]
) -> bool:
    params = {
        "tenant": tenant_id,
        "job": job_id,
        "amount": amount,
        "estimate": estimate,
        "month": month_start(),
    }
    if session.execute(_ADMIT, params).first():
        return True
    # Refused, or the tenant's first hold: make sure its totals exist (a concurrent first
    # admission may be creating them: this waits for it), then decide once more.
    session.execute(
        insert(TenantHoldTotal)
        .values([{"tenant_id": tenant_id, "side": side, "amount": 0} for side in SIDES])
        .on_conflict_do_nothing()
    )
    return session.execute(_ADMIT, params).first() is not None


SIDES = ("admitted", "released")


def open_holds(session: Session, tenant_id: str) -> Decimal:
    """What the tenant's active jobs hold: admitted minus released, from the two totals."""
    rows = dict(
        session.execute(
            select(TenantHoldTotal.side, TenantHoldTotal.amount).where(
                TenantHoldTotal.tenant_id == tenant_id
            )
        ).all()
    )
    return Decimal(rows.get("admitted") or 0) - Decimal(rows.get("released") or 0)


# Marks the holds released and adds them to their tenants' released totals, in one statement.
_RELEASE = text(
    """
    WITH released AS (
        UPDATE budget_holds SET released_at = now()
        WHERE job_id = ANY(:jobs) AND released_at IS NULL
        RETURNING tenant_id, amount
    ), totals AS (
        SELECT tenant_id, sum(amount) AS amount FROM released GROUP BY tenant_id
    )
    INSERT INTO tenant_hold_totals (tenant_id, side, amount)
    SELECT tenant_id, 'released', amount FROM totals
    ON CONFLICT (tenant_id, side)
    DO UPDATE SET amount = tenant_hold_totals.amount + excluded.amount
    """
)


def release_holds(session: Session, job_ids: list[str]) -> None:
    """Release the jobs' open holds (a job's end, in its final transaction)."""
    if job_ids:
        session.execute(_RELEASE, {"jobs": list(job_ids)})


def release_ended(session: Session) -> int:
    """The net: holds still open for jobs that have ended (a path that missed its release)."""
    ended = list(
        session.execute(
            select(BudgetHold.job_id)
            .join(Job, Job.id == BudgetHold.job_id)
            .where(BudgetHold.released_at.is_(None), Job.status.not_in(ACTIVE))
        ).scalars()
    )
    release_holds(session, ended)
    return len(ended)


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

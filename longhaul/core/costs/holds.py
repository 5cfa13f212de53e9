"""Budget pre-authorization: at submit, hold a job's maximum cost against its tenant's budget.

With ``LONGHAUL_BUDGET_MODE=hold`` (the default) a new job is admitted only if this month's
spend, plus the holds of the tenant's running jobs, plus this job's maximum cost
(``core/pricing/estimate.py``) fits the budget; otherwise it is refused (402) before it is stored
or sent upstream. The check, the job's INSERT and the hold are one statement on the tenant's
running total of holds (``tenant_hold_totals``), so concurrent submissions of one tenant cannot
both take the last dollars, an admission costs the same with 10 or 10,000 running jobs, and a
budgeted create needs no transaction around it. A hold counts while its
job is active and is released when the job ends, in finalize's transaction (with a ledger, the
spend takes its place in that same transaction); the sweep's reconcile releases any hold a job
that ended somehow kept (``release_ended``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, Select, bindparam, column, func, select, text
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


@dataclass(frozen=True)
class Hold:
    """What a new job must hold against its tenant's budget before it may be stored."""

    amount: Decimal
    estimate: Estimate


def plan_hold(
    session: Session, tenant: Tenant, job: Job, settings: Settings | None = None
) -> Hold | None:
    """The hold ``job`` (built, not yet stored) needs, or None when nothing is held (no budget,
    or ``spent-only``). Where no hold is possible (spent-only, an unpriced model) the spent-only
    rule applies here: ``BudgetExceeded`` once this month's spend reached the budget."""
    settings = settings or get_settings()
    if tenant.monthly_budget_usd is None:
        return None
    if settings.budget_mode == "spent-only":
        check_budget(session, tenant)
        return None
    estimate = _estimate(session, job, settings)
    amount = estimate.amount
    if amount is None:  # an unpriced model: nothing to hold, but the hold row shows why
        check_budget(session, tenant)
        amount = Decimal(0)
    return Hold(amount, estimate)


def insert_held(session: Session, tenant: Tenant, row: dict[str, Any], hold: Hold) -> bool:
    """Store a new job (``row``: its column values) with its hold, in one statement that admits
    it only if it fits (``_admitted_insert``): no transaction is needed around it. Raises
    ``BudgetExceeded`` with the figures when it does not fit (nothing stored). Returns False
    when a concurrent create with the same Idempotency-Key stored its job first: then nothing of
    this one is kept and the caller replays the other."""
    connection = session.connection()
    statement = _admitted_insert(tuple(row))
    params = {
        **row,
        "tenant": tenant.id,
        "amount": hold.amount,
        "estimate": hold.estimate.view(),
        "month": month_start(),
    }
    result = connection.execute(statement, params).one()
    if result.admitted is None:
        # Refused, or the tenant's first hold: make sure its totals exist (a concurrent first
        # admission may be creating them: this waits for it), then decide once more.
        connection.execute(
            insert(TenantHoldTotal)
            .values([{"tenant_id": tenant.id, "side": side, "amount": 0} for side in SIDES])
            .on_conflict_do_nothing()
        )
        result = connection.execute(statement, params).one()
    if result.admitted is None:
        raise _refusal(session, tenant.id, hold)
    if result.job_id is None:  # the key's job exists: take back what was admitted for this one
        if result.admitted:  # (nothing was, if the budget was removed meanwhile)
            connection.execute(_UNADMIT, {"tenant": tenant.id, "amount": hold.amount})
        return False
    return True


# Adds the hold to the tenant's ``admitted`` total only when spend + open holds + this hold fit
# the budget. The UPDATE locks that row for the statement (or until the caller's transaction
# ends), so concurrent admissions of one tenant take turns on it: PostgreSQL re-checks the
# condition against the row a competitor committed. A budget removed since the caller read the
# tenant admits the job and holds nothing (``held`` false).
_ADMIT = text(
    """
    UPDATE tenant_hold_totals AS t
    SET amount = t.amount + CASE WHEN b.budget IS NULL THEN 0 ELSE :amount END
    FROM (SELECT monthly_budget_usd AS budget FROM tenants WHERE id = :tenant) AS b
    WHERE t.tenant_id = :tenant AND t.side = 'admitted'
      AND (b.budget IS NULL OR
           t.amount + :amount
           - coalesce((SELECT r.amount FROM tenant_hold_totals r
                       WHERE r.tenant_id = :tenant AND r.side = 'released'), 0)
           + coalesce((SELECT s.amount FROM tenant_month_spend s
                       WHERE s.tenant_id = :tenant AND s.month = :month), 0)
           <= b.budget)
    RETURNING t.tenant_id, b.budget IS NOT NULL AS held
    """
).bindparams(bindparam("amount", type_=Numeric(20, 9)))

_UNADMIT = text(
    "UPDATE tenant_hold_totals SET amount = amount - :amount "
    "WHERE tenant_id = :tenant AND side = 'admitted'"
).bindparams(bindparam("amount", type_=Numeric(20, 9)))

_JOB_COLUMNS = Job.__table__.c


@functools.cache
def _admitted_insert(columns: tuple[str, ...]) -> Select[Any]:
    """admit → insert the job (only if admitted; nothing on an Idempotency-Key conflict) →
    insert its hold (only if the job was inserted), as one statement with three data-modifying
    CTEs. Selects ``admitted`` (null when refused; false when admitted without a hold because
    the budget was removed) and ``job_id`` (null when not inserted).
    Built once per column set: a create binds its values only."""
    admitted = _ADMIT.columns(column("tenant_id"), column("held")).cte("admitted")
    job = (
        insert(Job)
        .from_select(
            list(columns),
            select(*(bindparam(c, type_=_JOB_COLUMNS[c].type) for c in columns)).select_from(
                admitted
            ),
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
        .returning(Job.id)
        .cte("job")
    )
    hold = (
        insert(BudgetHold)
        .from_select(
            ["job_id", "tenant_id", "amount", "estimate", "created_at"],
            select(
                job.c.id,
                bindparam("tenant", type_=_JOB_COLUMNS.tenant_id.type),
                bindparam("amount", type_=Numeric(20, 9)),
                bindparam("estimate", type_=JSONB),
                func.now(),
            )
            .select_from(job)
            .where(select(admitted.c.held).scalar_subquery()),
        )
        .cte("hold")
    )
    return select(
        select(admitted.c.held).scalar_subquery().label("admitted"),
        select(job.c.id).scalar_subquery().label("job_id"),
    ).add_cte(hold)


def _refusal(session: Session, tenant_id: str, hold: Hold) -> BudgetExceeded:
    budget = session.execute(
        select(Tenant.monthly_budget_usd).where(Tenant.id == tenant_id)
    ).scalar_one()
    spent, held = month_spend(session, tenant_id), open_holds(session, tenant_id)
    budget = budget or Decimal(0)  # removed meanwhile (then admission would not refuse)
    left = max(budget - spent - held, Decimal(0))
    estimate = hold.estimate
    return BudgetExceeded(
        f"Budget hold refused: this job may cost up to {dollars(hold.amount)} "
        f"(input ≤ {estimate.input_tokens:,} tokens, "
        f"output ≤ {estimate.output_tokens or 0:,} tokens, "
        f"tools {dollars(_tools(estimate))}); "
        f"this month (UTC) {dollars(spent)} is spent and {dollars(held)} held by running "
        f"jobs of {dollars(budget)}, leaving "
        f"{dollars(left)}. Set max_output_tokens or max_tool_calls to hold less, wait for "
        "running jobs, or raise the budget.",
        code="budget_exceeded",
    )


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

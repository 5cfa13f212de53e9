"""Budget alerts: a ``budget.threshold_reached`` webhook event when a tenant's month spend reaches
a fraction of its budget (``LONGHAUL_BUDGET_ALERT_FRACTIONS``, default 50 %, 80 %, 100 %).

Checked in the ledger's transaction, right after the month-spend rollup moved: the rollup row is
locked until commit, so finalizers of one tenant see each other's spend and no crossing is
missed. ``budget_alerts`` is unique on (tenant, month, threshold): each threshold is announced
once a month, however many finalizers race. Thresholds reached by one job together go out as one
event (the event is keyed by job and type), naming the highest and listing all. The event rides
the same outbox, signature and retry schedule as job events, to the tenant's endpoints
subscribed to it (not to the job's own ``webhook`` URL).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core.config import get_settings
from longhaul.core.costs.budgets import month_spend
from longhaul.core.costs.usage import month_start
from longhaul.core.ids import new_id
from longhaul.core.models import Job, Tenant, utcnow
from longhaul.core.models.costs import BudgetAlert
from longhaul.core.models.webhooks import WebhookEvent
from longhaul.core.webhooks.outbox import BUDGET_THRESHOLD_REACHED, add_deliveries, encode_payload


def check_budget_alerts(session: Session, job: Job) -> list[Decimal]:
    """Record the thresholds the tenant's month spend has newly reached and their event (flush
    only). Returns those thresholds (fractions of the budget)."""
    tenant = session.get(Tenant, job.tenant_id)
    budget = tenant.monthly_budget_usd if tenant else None
    if tenant is None or budget is None:
        return []
    now = utcnow()
    month = month_start(now)
    spent = month_spend(session, tenant.id, now=now)
    reached = [
        f
        for f in (Decimal(str(x)) for x in get_settings().budget_alert_fractions)
        if spent > 0 and spent >= f * budget
    ]
    if not reached:
        return []
    claimed = sorted(
        session.execute(
            insert(BudgetAlert)
            .values(
                [
                    {
                        "tenant_id": tenant.id,
                        "month": month,
                        "threshold": f,
                        "budget_usd": budget,
                        "spent_usd": spent,
                        "job_id": job.id,
                        "created_at": now,
                    }
                    for f in reached
                ]
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "month", "threshold"])
            .returning(BudgetAlert.threshold)
        ).scalars()
    )
    if not claimed:
        return []
    data = {
        "object": "longhaul.budget_alert",
        "tenant": tenant.name,
        "month": month.strftime("%Y-%m"),
        "threshold": float(claimed[-1]),
        "thresholds": [float(f) for f in claimed],
        "budget_usd": f"{budget:.6f}",
        "threshold_usd": f"{claimed[-1] * budget:.6f}",
        "spent_usd": f"{spent:.6f}",
        "job_id": job.id,
    }
    event_id = session.execute(
        insert(WebhookEvent)
        .values(
            id=new_id("evt_", 16),
            tenant_id=tenant.id,
            job_id=job.id,
            type=BUDGET_THRESHOLD_REACHED,
            payload=encode_payload(BUDGET_THRESHOLD_REACHED, data, now),
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["job_id", "type"])
        .returning(WebhookEvent.id)
    ).scalar_one_or_none()
    if event_id is not None:
        session.execute(
            update(BudgetAlert)
            .where(
                BudgetAlert.tenant_id == tenant.id,
                BudgetAlert.month == month,
                BudgetAlert.threshold.in_(claimed),
            )
            .values(event_id=event_id)
        )
        add_deliveries(session, session.get_one(WebhookEvent, event_id), job, now)
    session.flush()
    return claimed


def alerts_this_month(session: Session, tenant_id: str) -> list[BudgetAlert]:
    return list(
        session.execute(
            select(BudgetAlert)
            .where(BudgetAlert.tenant_id == tenant_id, BudgetAlert.month == month_start())
            .order_by(BudgetAlert.threshold)
        ).scalars()
    )

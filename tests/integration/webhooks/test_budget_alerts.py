"""budget.threshold_reached: once per threshold per tenant and month, signed and delivered like
job events to the tenant endpoints that subscribe to it (real PostgreSQL, real HTTP)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.costs.alerts import alerts_this_month, check_budget_alerts
from longhaul.core.costs.budgets import set_budget
from longhaul.core.costs.ledger import write_ledger
from longhaul.core.models import Job, Tenant
from longhaul.core.models.webhooks import WebhookDelivery, WebhookEvent
from longhaul.core.webhooks.endpoints import create_endpoint
from longhaul.core.webhooks.signing import create_secret
from tests.integration.webhooks.conftest import Receiver, drive, make_job, set_env

pytestmark = pytest.mark.usefixtures("wh_settings")


def _spend(session: Session, tenant: Tenant, input_tokens: int, *, hook: str | None) -> Job:
    """A finished gpt-5 job costing input_tokens * $1.25/M (no output)."""
    job = make_job(session, tenant, webhook_url=hook)
    response: dict[str, Any] = {
        "model": "gpt-5",
        "service_tier": "default",
        "usage": {"input_tokens": input_tokens, "output_tokens": 0},
        "output": [],
    }
    write_ledger(session, job, response)
    session.commit()
    return job


def _budget_events(session: Session, tenant: Tenant) -> list[WebhookEvent]:
    session.expire_all()
    return list(
        session.execute(
            select(WebhookEvent)
            .where(
                WebhookEvent.tenant_id == tenant.id,
                WebhookEvent.type == "budget.threshold_reached",
            )
            .order_by(WebhookEvent.created_at)
        ).scalars()
    )


def _all_sent(session: Session) -> bool:
    session.expire_all()
    return not session.execute(
        select(WebhookDelivery.id).where(WebhookDelivery.status == "pending")
    ).first()


def test_thresholds_announced_once_signed_to_subscribed_endpoints(
    session: Session, tenant: Tenant, receiver: Receiver
) -> None:
    receiver.secrets = [create_secret(session, tenant.id)]
    alerts = create_endpoint(
        session, tenant.id, url=receiver.url + "?budget", event_types=["budget.threshold_reached"]
    )
    create_endpoint(session, tenant.id, url=receiver.url + "?jobs", event_types=["response.failed"])
    set_budget(session, tenant_name=tenant.name, usd=D("1"))
    session.commit()
    job_hook = receiver.url + "?job"

    a = _spend(session, tenant, 240_000, hook=job_hook)  # 0.30 of $1: below 50 %
    assert _budget_events(session, tenant) == []
    b = _spend(session, tenant, 480_000, hook=job_hook)  # +0.60 = 0.90: 50 % and 80 % at once
    c = _spend(session, tenant, 120_000, hook=job_hook)  # +0.15 = 1.05: 100 %
    _spend(session, tenant, 240_000, hook=job_hook)  # +0.30 = 1.35: nothing new
    events = _budget_events(session, tenant)
    assert [e.job_id for e in events] == [b.id, c.id]
    assert a.id not in {e.job_id for e in events}
    rows = alerts_this_month(session, tenant.id)
    assert [(r.threshold, r.job_id, r.spent_usd) for r in rows] == [
        (D("0.5000"), b.id, D("0.9")),
        (D("0.8000"), b.id, D("0.9")),
        (D("1.0000"), c.id, D("1.05")),
    ]
    # a later check (another finalize, a retried task) announces nothing twice
    assert check_budget_alerts(session, c) == []

    drive(session, lambda: _all_sent(session))
    sent = [r for r in receiver.requests if r.path.endswith("?budget")]
    assert [r.verified_with for r in sent] == [[0], [0]]  # signed with the tenant's secret
    assert [r.headers["webhook-id"] for r in sent] == [e.id for e in events]
    first, second = (json.loads(r.body) for r in sent)
    assert first["type"] == "budget.threshold_reached"
    assert first["data"] == {
        "object": "longhaul.budget_alert",
        "tenant": tenant.name,
        "month": first["data"]["month"],
        "threshold": 0.8,
        "thresholds": [0.5, 0.8],
        "budget_usd": "1.000000",
        "threshold_usd": "0.800000",
        "spent_usd": "0.900000",  # 0.30 + 0.60
        "job_id": b.id,
    }
    assert (second["data"]["threshold"], second["data"]["spent_usd"]) == (1.0, "1.050000")
    # neither the job's own webhook URL nor an endpoint of other types gets budget events
    urls = {
        d.url
        for d in session.execute(
            select(WebhookDelivery).where(WebhookDelivery.event_id.in_([e.id for e in events]))
        ).scalars()
    }
    assert urls == {alerts.url}


def test_fractions_are_configurable_and_no_budget_means_no_alert(
    session: Session, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    _spend(session, tenant, 800_000, hook=None)  # $1.00 spent, no budget: nothing
    assert _budget_events(session, tenant) == []
    set_env(monkeypatch, "LONGHAUL_BUDGET_ALERT_FRACTIONS", "0.25, 2")
    set_budget(session, tenant_name=tenant.name, usd=D("0.80"))
    session.commit()
    job = _spend(session, tenant, 80_000, hook=None)  # +0.10 = 1.10 of 0.80: 25 % only
    assert [r.threshold for r in alerts_this_month(session, tenant.id)] == [D("0.2500")]
    [event] = _budget_events(session, tenant)
    assert event.job_id == job.id
    assert json.loads(event.payload)["data"]["threshold_usd"] == "0.200000"  # 0.25 * 0.80

"""Webhook tasks: the beat tick that hands out due deliveries, and one delivery attempt."""

from __future__ import annotations

from longhaul.core.db import session_scope
from longhaul.core.models import utcnow
from longhaul.core.webhooks.delivery import deliver_due as claim_due_deliveries
from longhaul.core.webhooks.delivery import deliver_one
from longhaul.worker.app import app

DELIVER = "longhaul.webhooks.deliver"


@app.task(name="longhaul.webhooks.deliver_due", send_events=False)  # a 1 s tick
def deliver_due() -> int:
    """Claim (and lease) due deliveries, then, after commit, send one ``deliver`` task each."""
    with session_scope() as session:
        ids = claim_due_deliveries(session, utcnow())
    for delivery_id in ids:
        app.send_task(DELIVER, args=[delivery_id])
    return len(ids)


@app.task(name=DELIVER)
def deliver(delivery_id: str) -> str | None:
    with session_scope() as session:
        return deliver_one(session, delivery_id)


def send_deliveries(delivery_ids: list[str]) -> None:
    """Deliver now instead of at the next tick (call after the commit that created them)."""
    for delivery_id in delivery_ids:
        app.send_task(DELIVER, args=[delivery_id])

"""Webhook tasks: the beat tick that hands out due deliveries, and one delivery attempt."""

from __future__ import annotations

from longhaul.core.db import session_scope
from longhaul.core.messages import DELIVER, DELIVER_DUE, WEBHOOKS_QUEUE
from longhaul.core.models import utcnow
from longhaul.core.webhooks.delivery import deliver_due as claim_due_deliveries
from longhaul.core.webhooks.delivery import deliver_one
from longhaul.worker.app import app
from longhaul.worker.dispatch import queue_states


@app.task(name=DELIVER_DUE, send_events=False)  # a 1 s tick
def deliver_due() -> int:
    """Claim (and lease) due deliveries; one ``deliver`` task each leaves after the commit."""
    now = utcnow()
    horizon = queue_states([WEBHOOKS_QUEUE])[WEBHOOKS_QUEUE].horizon(now)
    with session_scope() as session:
        return len(claim_due_deliveries(session, now, horizon=horizon))


@app.task(name=DELIVER)
def deliver(delivery_id: str) -> str | None:
    with session_scope() as session:
        return deliver_one(session, delivery_id)

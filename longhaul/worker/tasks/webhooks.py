"""Webhook tasks: the beat tick that hands out due deliveries, and one delivery attempt."""

from __future__ import annotations

from longhaul.core.db import session_scope
from longhaul.core.messages import DELIVER, DELIVER_DUE
from longhaul.core.models import utcnow
from longhaul.core.webhooks.delivery import deliver_due as claim_due_deliveries
from longhaul.core.webhooks.delivery import deliver_one
from longhaul.worker.app import app


@app.task(name=DELIVER_DUE, send_events=False)  # a 1 s tick
def deliver_due() -> int:
    """Claim (and lease) due deliveries; one ``deliver`` task each leaves after the commit."""
    with session_scope() as session:
        return len(claim_due_deliveries(session, utcnow()))


@app.task(name=DELIVER)
def deliver(delivery_id: str) -> str | None:
    with session_scope() as session:
        return deliver_one(session, delivery_id)

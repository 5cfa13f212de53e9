"""The outbox: the final event of a job, written in the transaction that makes the job final.

One event per (job, type) (a unique key, so finalize may run twice); its id is the ``webhook-id``
of every attempt, and its payload bytes are stored once so each attempt signs exactly those bytes.
One delivery row per target: the job's own ``webhook_url`` and every enabled tenant endpoint
subscribed to the event's type.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core.config import get_settings
from longhaul.core.ids import new_id
from longhaul.core.jobs.lifecycle import TERMINAL
from longhaul.core.models import Job, utcnow
from longhaul.core.models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent
from longhaul.core.webhooks import destinations
from longhaul.core.webhooks.policy import first_attempt_at
from longhaul.core.webhooks.signing import ensure_secrets

log = logging.getLogger(__name__)

EVENT_TYPES: dict[str, str] = {status: f"response.{status}" for status in TERMINAL}
# A tenant's monthly spend reached a budget fraction (core/costs/alerts.py); tied to the job
# whose cost crossed it, delivered to subscribed tenant endpoints only.
BUDGET_THRESHOLD_REACHED = "budget.threshold_reached"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def job_data(session: Session, job: Job) -> dict[str, Any]:
    """The event's ``data``: the job summary (links use ``public_url`` when set)."""
    from longhaul.core.jobs.views import job_summary  # late: views imports costs and artifacts

    return job_summary(session, job, get_settings().public_url)


def encode_payload(event_type: str, data: dict[str, Any], now: datetime) -> bytes:
    envelope = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    return json.dumps(envelope, separators=(",", ":"), default=_json_default).encode()


def record_final_event(session: Session, job: Job) -> None:
    """Write the job's final event and its deliveries. Flush only; a second call is a no-op."""
    event_type = EVENT_TYPES.get(job.status)
    if event_type is None:
        log.warning("no final event for job %s in status %s", job.id, job.status)
        return
    now = utcnow()
    event_id = session.execute(
        insert(WebhookEvent)
        .values(
            id=new_id("evt_", 16),
            tenant_id=job.tenant_id,
            job_id=job.id,
            type=event_type,
            payload=encode_payload(event_type, job_data(session, job), now),
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["job_id", "type"])
        .returning(WebhookEvent.id)
    ).scalar_one_or_none()
    if event_id is None:
        return
    add_deliveries(session, session.get_one(WebhookEvent, event_id), job, now)
    session.flush()


def add_deliveries(session: Session, event: WebhookEvent, job: Job, now: datetime) -> None:
    """One pending delivery per target not yet targeted: the job's URL (job events only) and
    every enabled tenant endpoint subscribed to the event's type."""
    targets: list[tuple[str | None, str]] = []
    if job.webhook_url and event.type != BUDGET_THRESHOLD_REACHED:
        targets.append((None, job.webhook_url))
    endpoints = session.execute(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == job.tenant_id,
            WebhookEndpoint.disabled_at.is_(None),
            WebhookEndpoint.event_types.contains([event.type]),
        )
    ).scalars()
    targets += [(e.id, e.url) for e in endpoints]
    if targets:
        # The tenant's first signing secret is created here, committed with the event, not by
        # the first attempt: that one holds its transaction while it waits on the receiver, and
        # every other attempt for the tenant would wait on its uncommitted insert.
        ensure_secrets(session, event.tenant_id, now)
    due = first_attempt_at(get_settings().webhook_schedule_seconds, now)
    for endpoint_id, url in targets:
        session.execute(
            insert(WebhookDelivery)
            .values(
                id=new_id("whd_"),
                event_id=event.id,
                endpoint_id=endpoint_id,
                url=url,
                status="pending",
                attempts=0,
                schedule_pos=0,
                next_attempt_at=due,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["event_id", "url"])
        )


def pending_delivery_ids(session: Session, job_id: str) -> list[str]:
    """Lease the job's deliveries that are due now (within each receiver's bound, none to an open
    circuit) for a send right after the final commit; the tick hands out the rest, and never
    these while their lease runs."""
    return destinations.claim(session, utcnow(), job_id=job_id)

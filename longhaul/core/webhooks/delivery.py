"""Delivering outbox events: claim due deliveries, POST one, record the attempt, schedule the next.

Three guards keep an event from being sent twice at once or early: every sender leases the rows
it hands out (``destinations.claim``: the tick, finalize's immediate send and a redelivery, so
none hands out what another's task holds, and each receiver gets a bounded number at once),
``deliver_one`` holds the row lock (``FOR UPDATE SKIP LOCKED``) for the whole attempt, so a
duplicate task skips instead of sending, and it attempts only when ``next_attempt_at`` has come,
so a duplicate that runs after an attempt finds the next slot in the future and skips. A worker
killed mid-attempt loses its lock and its lease runs out; the next tick hands the delivery out
again with the same ``webhook-id``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from longhaul.core import messages, metrics
from longhaul.core.config import get_settings
from longhaul.core.errors import Conflict
from longhaul.core.failures import Failure
from longhaul.core.models import Job, utcnow
from longhaul.core.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from longhaul.core.webhooks import destinations, outbox
from longhaul.core.webhooks.policy import decide
from longhaul.core.webhooks.sender import SendResult, send
from longhaul.core.webhooks.signing import ensure_secrets, sign_headers
from longhaul.core.webhooks.ssrf import Allow

log = logging.getLogger(__name__)


def deliver_due(
    session: Session, now: datetime, *, limit: int | None = None, horizon: datetime | None = None
) -> list[str]:
    """Claim deliveries whose time has come (skipping rows other workers hold; within each
    receiver's concurrency bound and closed circuit, ``destinations.claim``) and lease them; one
    ``deliver`` message each leaves after the commit. ``horizon``: every message sent before it
    has left the webhooks queue (``QueueState.horizon``)."""
    ids = destinations.claim(session, now, limit=limit, horizon=horizon)
    if ids:
        messages.send_after_commit(session, *map(messages.deliver, ids))
    return ids


def deliver_one(session: Session, delivery_id: str) -> str | None:
    """Make one attempt if the delivery is still pending and nobody else is on it.

    Returns the delivery's new status, or None when there was nothing to do. The attempt row is
    written whatever happened; the caller commits.
    """
    delivery = session.execute(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if delivery is None or delivery.status != "pending":
        return None
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > utcnow():
        # A second message for a slot that already ran (finalize's immediate send and the beat
        # tick can both hand out a fresh row): its next attempt is not due yet.
        return None
    event = session.get_one(WebhookEvent, delivery.event_id)
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id) if delivery.endpoint_id else None
    if endpoint is not None and endpoint.disabled_at is not None:
        _finish(delivery, "disabled", error="endpoint is disabled")
        return "disabled"

    settings = get_settings()
    started = utcnow()
    try:
        keys = ensure_secrets(session, event.tenant_id, started)
        headers = sign_headers(event.id, event.payload, keys, datetime.now(UTC))
        result = send(
            delivery.url,
            event.payload,
            headers,
            allow=Allow.parse(settings.webhook_allow_hosts),
            connect_timeout=settings.webhook_connect_timeout,
            read_timeout=settings.webhook_read_timeout,
        )
    except Exception as exc:  # recorded as a failed attempt, retried per schedule
        log.exception("webhook delivery %s crashed", delivery.id)
        crash = f"{type(exc).__name__}: {exc}"
        failure = Failure("transient", {"code": "delivery_crashed", "message": crash})
        result = SendResult(error=crash, failure=failure)
    else:  # our own crash says nothing about the receiver
        destinations.record(session, delivery.url, result.failure, utcnow(), settings=settings)

    delivery.attempts += 1
    delivery.schedule_pos += 1
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=delivery.attempts,
            started_at=started,
            ip=result.ip,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            response_body=result.body,
            error=result.error,
        )
    )
    now = utcnow()
    decision = decide(
        failure=result.failure,
        attempts_made=delivery.schedule_pos,
        schedule=settings.webhook_schedule_seconds,
        now=now,
    )
    error = result.error
    if error is None and decision.status != "delivered":
        error = f"HTTP {result.status_code}"
    _finish(delivery, decision.status, error=error, code=result.status_code)
    delivery.next_attempt_at = decision.next_attempt_at
    if decision.status == "delivered":
        delivery.delivered_at = now
    if decision.status == "disabled" and endpoint is not None:
        endpoint.disabled_at = now
        endpoint.disabled_reason = "The receiver answered 410 Gone."
    metrics.webhook_attempt(session, event.job_id, decision.status, now)
    if not destinations.costly(result.failure) and result.status_code is not None:
        # The receiver answers: the next delivery due to it takes this slot now, not at the tick.
        nxt = destinations.claim(session, now, same_origin_as=delivery.url, limit=1)
        messages.send_after_commit(session, *map(messages.deliver, nxt))
    log.info(
        "webhook %s attempt %d to %s: %s (%s)",
        event.id,
        delivery.attempts,
        delivery.url,
        decision.status,
        result.status_code or result.error,
    )
    session.flush()
    return decision.status


def _finish(
    delivery: WebhookDelivery, status: str, *, error: str | None, code: int | None = None
) -> None:
    delivery.status = status
    delivery.lease_until = None
    delivery.last_error = error
    delivery.last_status_code = code
    if status != "pending":
        delivery.next_attempt_at = None


def redeliver(session: Session, job: Job) -> list[str]:
    """Send the job's final event again, now, to every target (a fresh schedule run). Targets
    added since (a new subscribed endpoint) are included. Flush only."""
    events = list(
        session.execute(select(WebhookEvent).where(WebhookEvent.job_id == job.id)).scalars()
    )
    if not events:
        raise Conflict("This job has no webhook event yet: it is not finished.")
    now = utcnow()
    for event in events:
        outbox.add_deliveries(session, event, job, now)
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.event_id.in_([e.id for e in events]))
        .values(
            status="pending", schedule_pos=0, next_attempt_at=now, lease_until=None, updated_at=now
        )
    )
    session.flush()
    ids = outbox.pending_delivery_ids(session, job.id)
    messages.send_after_commit(session, *map(messages.deliver, ids))  # now, not at the tick
    return ids

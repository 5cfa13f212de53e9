"""How deliveries look from outside (``GET /v1/jobs/{id}/deliveries``, ``longhaul webhooks``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEvent
from longhaul.schemas import webhooks as wire


def build_deliveries(session: Session, job_id: str) -> list[wire.WebhookDelivery]:
    """Every delivery of the job's events, oldest first, each with its attempts."""
    rows = session.execute(
        select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookEvent.job_id == job_id)
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
    ).all()
    ids = [d.id for d, _ in rows]
    attempts: dict[str, list[wire.WebhookAttempt]] = {i: [] for i in ids}
    for a in session.execute(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(ids))
        .order_by(WebhookAttempt.number, WebhookAttempt.id)
    ).scalars():
        attempts[a.delivery_id].append(
            wire.WebhookAttempt(
                number=a.number,
                started_at=a.started_at,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                response_body=a.response_body,
                error=a.error,
            )
        )
    return [
        wire.WebhookDelivery(
            id=d.id,
            event_id=d.event_id,
            event_type=event_type,
            url=d.url,
            endpoint_id=d.endpoint_id,
            status=d.status,
            attempt_count=d.attempts,
            next_attempt_at=d.next_attempt_at,
            delivered_at=d.delivered_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            attempts=attempts[d.id],
        )
        for d, event_type in rows
    ]


def job_deliveries(session: Session, job_id: str) -> list[dict[str, Any]]:
    """``build_deliveries`` as JSON-ready data (the CLI and the viewer)."""
    return [d.model_dump(mode="json") for d in build_deliveries(session, job_id)]

"""Tenant-level webhook endpoints: a URL plus the event types it subscribes to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.errors import InvalidInput, NotFound
from longhaul.core.ids import new_id
from longhaul.core.models import utcnow
from longhaul.core.models.webhooks import WebhookEndpoint
from longhaul.core.webhooks.outbox import BUDGET_THRESHOLD_REACHED, EVENT_TYPES
from longhaul.core.webhooks.ssrf import validate_url

ALL_TYPES = (*EVENT_TYPES.values(), BUDGET_THRESHOLD_REACHED)


def create_endpoint(
    session: Session,
    tenant_id: str,
    *,
    url: str,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    validate_url(url)
    types = list(dict.fromkeys(event_types or ALL_TYPES))
    unknown = [t for t in types if t not in ALL_TYPES]
    if unknown:
        raise InvalidInput(
            f"Unknown event type(s) {', '.join(unknown)}; expected some of {', '.join(ALL_TYPES)}.",
            param="event_types",
        )
    endpoint = WebhookEndpoint(
        id=new_id("we_"),
        tenant_id=tenant_id,
        url=url,
        event_types=types,
        description=description,
        created_at=utcnow(),
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def list_endpoints(session: Session, tenant_id: str) -> list[WebhookEndpoint]:
    return list(
        session.execute(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id)
            .order_by(WebhookEndpoint.created_at)
        ).scalars()
    )


def delete_endpoint(session: Session, tenant_id: str, endpoint_id: str) -> None:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.tenant_id != tenant_id:
        raise NotFound(f"No webhook endpoint found with id '{endpoint_id}'.", param="id")
    session.delete(endpoint)
    session.flush()


def endpoint_view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "description": endpoint.description,
        "status": "disabled" if endpoint.disabled_at else "enabled",
        "disabled_at": endpoint.disabled_at.isoformat() if endpoint.disabled_at else None,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at.isoformat(),
    }

"""Outbound webhooks: the event payload, deliveries with their attempts, endpoints, secrets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from longhaul.schemas.common import Timestamp
from longhaul.schemas.jobs import JobSummary

EventType = Literal[
    "response.completed",
    "response.failed",
    "response.cancelled",
    "response.incomplete",
    "budget.threshold_reached",
]


class WebhookEvent(BaseModel):
    """The body Longhaul POSTs (signed per Standard Webhooks)."""

    type: EventType
    timestamp: Timestamp
    data: JobSummary | dict[str, Any] = Field(
        description="The job summary for ``response.*`` events."
    )


class WebhookAttempt(BaseModel):
    number: int
    started_at: Timestamp | None
    status_code: int | None
    latency_ms: int | None
    response_body: str | None
    error: str | None


class WebhookDelivery(BaseModel):
    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    event_id: str
    event_type: str
    url: str
    endpoint_id: str | None
    status: str
    attempt_count: int
    next_attempt_at: Timestamp | None
    delivered_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    attempts: list[WebhookAttempt]


class WebhookEndpoint(BaseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    event_types: list[str] | None
    description: str | None
    status: Literal["enabled", "disabled"]
    disabled_at: Timestamp | None
    disabled_reason: str | None
    created_at: Timestamp


class DeletedEndpoint(BaseModel):
    id: str
    object: Literal["webhook_endpoint.deleted"] = "webhook_endpoint.deleted"
    deleted: Literal[True] = True


class WebhookSecret(BaseModel):
    """The tenant's signing secrets, current first."""

    object: Literal["webhook_secret"] = "webhook_secret"
    secret: str
    previous: list[str]


class RotatedSecret(BaseModel):
    object: Literal["webhook_secret"] = "webhook_secret"
    secret: str
    previous_valid_for_seconds: int


class InboundReceipt(BaseModel):
    received: Literal[True] = True
    job_id: str | None

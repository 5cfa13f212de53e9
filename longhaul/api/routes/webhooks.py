"""Webhook routes: inbound OpenAI webhooks, a job's deliveries, tenant endpoints and secret."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from longhaul.api.deps import SessionDep, TenantDep
from longhaul.api.errors import documented
from longhaul.core.config import get_settings
from longhaul.core.errors import NotFound
from longhaul.core.jobs import queries
from longhaul.core.models import utcnow
from longhaul.core.webhooks import endpoints, signing
from longhaul.core.webhooks.delivery import redeliver
from longhaul.core.webhooks.inbound import handle_openai_webhook
from longhaul.core.webhooks.views import build_deliveries
from longhaul.schemas.common import ListOf
from longhaul.schemas.webhooks import (
    DeletedEndpoint,
    InboundReceipt,
    RotatedSecret,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSecret,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])


@router.post("/v1/webhooks/openai", response_model=InboundReceipt, responses=documented(400))
async def openai_webhook(request: Request, session: SessionDep) -> InboundReceipt:
    """Verified with ``LONGHAUL_OPENAI_WEBHOOK_SECRET``; a known running job is polled at once."""
    raw = await request.body()
    headers = dict(request.headers)
    job_id = await run_in_threadpool(_wake_job, session, raw, headers)
    return InboundReceipt(job_id=job_id)


def _wake_job(session: Session, raw: bytes, headers: dict[str, str]) -> str | None:
    job_id = handle_openai_webhook(session, raw, headers, get_settings().openai_webhook_secret)
    session.commit()  # the job's poll leaves after this commit
    return job_id


Deliveries = ListOf[WebhookDelivery]


@router.get(
    "/v1/jobs/{job_id}/deliveries", response_model=Deliveries, responses=documented(401, 404)
)
def list_deliveries(job_id: str, session: SessionDep, tenant: TenantDep) -> Deliveries:
    job = queries.get_for_tenant(session, tenant, job_id)
    return Deliveries(data=build_deliveries(session, job.id))


async def redeliver_allowed(job_id: str, request: Request, tenant: TenantDep) -> None:
    """Each redelivery POSTs to every target: at most ``LONGHAUL_REDELIVER_PER_HOUR`` per job."""
    limits = request.app.state.limits
    await limits.hit(limits.redeliver, tenant.id, job_id)


@router.post(
    "/v1/jobs/{job_id}/deliveries/redeliver",
    response_model=Deliveries,
    responses=documented(401, 404, 409, 429),
    dependencies=[Depends(redeliver_allowed)],
)
def redeliver_job(job_id: str, session: SessionDep, tenant: TenantDep) -> Deliveries:
    job = queries.get_for_tenant(session, tenant, job_id)
    redeliver(session, job)
    session.commit()  # the deliveries leave after this commit
    return Deliveries(data=build_deliveries(session, job.id))


class EndpointIn(BaseModel):
    url: str = Field(max_length=2048)
    event_types: list[str] | None = None
    description: str | None = Field(None, max_length=200)


@router.post(
    "/v1/webhook_endpoints", response_model=WebhookEndpoint, responses=documented(400, 401)
)
def create_endpoint(body: EndpointIn, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    endpoint = endpoints.create_endpoint(
        session, tenant.id, url=body.url, event_types=body.event_types, description=body.description
    )
    return endpoints.endpoint_view(endpoint)


@router.get(
    "/v1/webhook_endpoints", response_model=ListOf[WebhookEndpoint], responses=documented(401)
)
def list_endpoints(session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    rows = endpoints.list_endpoints(session, tenant.id)
    return {"object": "list", "data": [endpoints.endpoint_view(e) for e in rows]}


@router.delete(
    "/v1/webhook_endpoints/{endpoint_id}",
    response_model=DeletedEndpoint,
    responses=documented(401, 404),
)
def delete_endpoint(endpoint_id: str, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    endpoints.delete_endpoint(session, tenant.id, endpoint_id)
    return {"id": endpoint_id, "object": "webhook_endpoint.deleted", "deleted": True}


@router.get("/v1/webhook_secret", response_model=WebhookSecret, responses=documented(401, 404))
def get_secret(session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    """The tenant's signing secrets, current first. Reading changes nothing: a tenant gets its
    first secret with its first key (or its first event, or a rotation)."""
    keys = signing.active_secrets(session, tenant.id, utcnow())
    if not keys:
        raise NotFound(
            "This tenant has no webhook signing secret yet; "
            "POST /v1/webhook_secret/rotate creates one.",
            code="webhook_secret_missing",
        )
    return {"object": "webhook_secret", "secret": keys[0], "previous": keys[1:]}


@router.post("/v1/webhook_secret/rotate", response_model=RotatedSecret, responses=documented(401))
def rotate_secret(session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    grace = get_settings().webhook_rotation_grace_seconds
    secret = signing.rotate_secret(session, tenant.id, grace_seconds=grace)
    return {"object": "webhook_secret", "secret": secret, "previous_valid_for_seconds": grace}

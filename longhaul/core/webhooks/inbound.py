"""Inbound OpenAI webhooks: verify, dedupe by ``webhook-id``, map the response to its job.

OpenAI's events are thin (``data.id`` is the response id) and project-wide; to Longhaul they are a
wake-up: the job is made due now so the regular poll path fetches and finalizes it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from functools import lru_cache

import openai
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core import messages
from longhaul.core.errors import InvalidInput
from longhaul.core.jobs.lifecycle import ACTIVE, Step
from longhaul.core.models import Job, utcnow
from longhaul.core.models.webhooks import InboundWebhook

log = logging.getLogger(__name__)

RESPONSE_EVENTS = frozenset(
    {"response.completed", "response.failed", "response.cancelled", "response.incomplete"}
)


@lru_cache(maxsize=8)
def _verifier(secret: str) -> openai.OpenAI:
    # The client is only used for its webhook helpers; no request is ever made with it.
    return openai.OpenAI(api_key="unused", webhook_secret=secret, max_retries=0)


def handle_openai_webhook(
    session: Session, raw_body: bytes, headers: Mapping[str, str], secret: str | None
) -> str | None:
    """Returns the id of the job to poll now, or None (replay, other event type, unknown
    response, job already final). Raises ``InvalidInput`` on a bad signature. Flush only."""
    if not secret:
        raise InvalidInput("Inbound OpenAI webhooks are not configured on this server.")
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        _verifier(secret).webhooks.verify_signature(raw_body, lowered)
    except ValueError as exc:  # InvalidWebhookSignatureError, missing header
        raise InvalidInput(f"Invalid webhook: {exc}", code="invalid_signature") from exc
    # Signed, so OpenAI sent it; its shape is still checked before anything is stored.
    webhook_id, kind, response_id = _parse_event(raw_body, lowered)
    job_id = None
    if response_id:
        job_id = session.execute(
            select(Job.id).where(Job.upstream_response_id == response_id)
        ).scalar_one_or_none()
    fresh = session.execute(
        insert(InboundWebhook)
        .values(
            webhook_id=webhook_id,
            type=kind,
            response_id=response_id,
            job_id=job_id,
            received_at=utcnow(),
            data={"id": response_id} if response_id else None,
        )
        .on_conflict_do_nothing(index_elements=["webhook_id"])
        .returning(InboundWebhook.webhook_id)
    ).scalar_one_or_none()
    if fresh is None:
        log.info("inbound webhook %s is a replay; ignored", webhook_id)
        return None
    if kind not in RESPONSE_EVENTS:
        log.info("inbound webhook %s of type %s ignored", webhook_id, kind)
        return None
    if job_id is None:
        log.warning("inbound webhook %s: unknown response id %s", webhook_id, response_id)
        return None
    woken = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(ACTIVE))
        .values(next_poll_at=utcnow())
        .returning(Job.id)
    ).scalar_one_or_none()
    session.flush()
    if woken is None:
        log.info("inbound webhook %s: job %s needs no poll", webhook_id, job_id)
    else:  # polled at once, after the commit makes the wake-up visible
        messages.send_after_commit(session, messages.step(Step.POLL, woken))
    return woken


def _parse_event(raw_body: bytes, headers: Mapping[str, str]) -> tuple[str, str, str | None]:
    """``(webhook id, type, response id)`` of a verified event; ``InvalidInput`` (400) for a
    payload no OpenAI event has (never a 500 on what a column or the ORM cannot take)."""
    try:
        event = json.loads(raw_body)
    except ValueError as exc:
        raise InvalidInput(f"Invalid webhook: the body is not JSON ({exc}).") from exc
    if not isinstance(event, dict):
        raise InvalidInput("Invalid webhook: the event must be a JSON object.")
    webhook_id = headers.get("webhook-id") or ""
    if not 0 < len(webhook_id) <= 255:
        raise InvalidInput(
            "Invalid webhook: 'webhook-id' must be 1 to 255 characters.", param="webhook-id"
        )
    kind = event.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidInput("Invalid webhook: the event has no 'type'.", param="type")
    if kind not in RESPONSE_EVENTS:
        return webhook_id, kind[:100], None  # recorded and ignored
    data = event.get("data")
    response_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(response_id, str) or not 0 < len(response_id) <= 128:
        raise InvalidInput(
            "Invalid webhook: 'data.id' must be a response id (a string of 1 to 128 characters).",
            param="data.id",
        )
    return webhook_id, kind, response_id

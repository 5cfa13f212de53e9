"""Inbound OpenAI webhooks: verify, dedupe by ``webhook-id``, map the response to its job.

OpenAI's events are thin (``data.id`` is the response id) and project-wide; to Longhaul they are a
wake-up: the job is made due now so the regular poll path fetches and finalizes it.
"""

from __future__ import annotations

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
        event = _verifier(secret).webhooks.unwrap(raw_body, lowered)
    except ValueError as exc:  # InvalidWebhookSignatureError, missing header, bad JSON
        raise InvalidInput(f"Invalid webhook: {exc}", code="invalid_signature") from exc

    webhook_id = lowered.get("webhook-id") or str(getattr(event, "id", ""))
    data = getattr(event, "data", None)
    response_id = getattr(data, "id", None) if event.type in RESPONSE_EVENTS else None
    job_id = None
    if response_id:
        job_id = session.execute(
            select(Job.id).where(Job.upstream_response_id == response_id)
        ).scalar_one_or_none()
    fresh = session.execute(
        insert(InboundWebhook)
        .values(
            webhook_id=webhook_id,
            type=event.type,
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
    if event.type not in RESPONSE_EVENTS:
        log.info("inbound webhook %s of type %s ignored", webhook_id, event.type)
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

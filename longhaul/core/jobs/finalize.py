"""Finalize: archive artifacts, then in one transaction tool-call rows, the cost ledger, the final
state and the outbox event. Safe to run twice: the CAS on ``finalizing`` admits one winner and every
side effect has a unique key."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import openai
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core.artifacts.service import archive_job_artifacts
from longhaul.core.artifacts.sources import code_interpreter_containers, find_sources
from longhaul.core.config import Settings
from longhaul.core.costs.ledger import write_ledger
from longhaul.core.jobs import extract
from longhaul.core.jobs.common import release
from longhaul.core.jobs.heartbeat import keep_lease
from longhaul.core.jobs.lifecycle import Status
from longhaul.core.jobs.state import claim, transition
from longhaul.core.models import ToolCall, utcnow
from longhaul.core.models.artifacts import Artifact
from longhaul.core.webhooks.outbox import record_final_event

log = logging.getLogger(__name__)


def finalize_job(
    session: Session,
    job_id: str,
    *,
    client: openai.OpenAI,
    settings: Settings,
    token: str | None = None,
) -> str | None:
    """Returns the final status, or None when another run owns or already finished the job."""
    claimed = claim(
        session, job_id, [Status.FINALIZING], lease_seconds=settings.lease_seconds, token=token
    )
    if claimed is None:
        return None
    job, owner = claimed
    response: dict[str, Any] = job.response_body or {}
    if has_files(response):
        session.commit()  # the lease is visible before the downloads start
        with keep_lease(job.id, owner, settings.lease_seconds):
            archived = archive_job_artifacts(session, job, response, upstream=client)
        session.commit()
        if archived.counts.get("failed") and _retry_artifacts_later(
            session, job.id, owner, settings
        ):
            return None

    now = utcnow()
    _record_tool_calls(session, job.id, response)
    if response:
        write_ledger(session, job, response)
    status = extract.final_status(
        job.upstream_status, job.error, job.cancel_requested_at is not None
    )
    error = job.error
    if status == Status.FAILED and not error:
        error = response.get("error") or {"code": "failed", "message": "The response failed."}
    if status in (Status.COMPLETED, Status.INCOMPLETE) and not job.error:
        error = None
    done = transition(
        session,
        job.id,
        [Status.FINALIZING],
        status,
        now=now,
        owned_by=owner,
        output_text=extract.output_text(response) if response else None,
        usage=response.get("usage"),
        error=error,
        finished_at=now,
        next_poll_at=None,
        lease_until=None,
        lease_owner=None,
    )
    if done is None:
        session.rollback()
        return None
    record_final_event(session, done)
    session.commit()
    log.info("job %s finalized as %s", job.id, status)
    return status


def has_files(response: dict[str, Any]) -> bool:
    """Files to archive means network calls, so the claim commits first; without any, claim and
    final state share one transaction (a crash in between leaves the job as it was)."""
    return bool(response.get("output")) and bool(
        find_sources(response) or code_interpreter_containers(response)
    )


def _retry_artifacts_later(session: Session, job_id: str, owner: str, settings: Settings) -> bool:
    """Some files failed after their in-place retries (an upstream or storage outage). The job
    stays ``finalizing`` and the sweep brings it back later, up to ``artifact_rounds`` rounds,
    while the container still holds the files; then it completes with them marked ``failed``."""
    rounds = session.execute(
        select(func.max(Artifact.attempts)).where(
            Artifact.job_id == job_id, Artifact.status == "failed"
        )
    ).scalar_one()
    if not rounds or rounds >= settings.artifact_rounds:
        return False
    delay = timedelta(seconds=settings.retry_base_seconds * 10 * rounds)
    log.warning(
        "job %s: artifacts failed (round %d); finalizing again in %s", job_id, rounds, delay
    )
    release(session, job_id, owner, next_poll_at=utcnow() + delay)
    session.commit()
    return True


def _record_tool_calls(session: Session, job_id: str, response: dict[str, Any]) -> None:
    rows = [
        {
            "job_id": job_id,
            "output_index": index,
            "item_id": item.get("id"),
            "type": str(item.get("type")),
            "status": item.get("status"),
            "data": _without_blobs(item),
            "created_at": utcnow(),
        }
        for index, item in extract.tool_calls(response)
    ]
    if rows:
        session.execute(
            insert(ToolCall)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["job_id", "output_index"])
        )


def _without_blobs(item: dict[str, Any]) -> dict[str, Any]:
    """Image results are base64 blobs; the artifact keeps the bytes, the row keeps the rest."""
    if item.get("type") == "image_generation_call" and item.get("result"):
        return {**item, "result": f"<{len(item['result'])} base64 chars, archived>"}
    return item

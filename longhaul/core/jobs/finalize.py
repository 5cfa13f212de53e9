"""Finalize: archive artifacts, then in one transaction tool-call rows, the cost ledger, the final
state and the outbox event. Safe to run twice: the CAS on ``finalizing`` admits one winner and every
side effect has a unique key.

Jobs arrive in batches (a poll batch's finished jobs, a sweep's due ones): ``finalize_jobs``
claims a batch in one statement and ends its jobs without files one after the other in one task,
so a job costs its own writes and commit, not a task and a claim of its own. A job with files to
archive makes network calls that may last minutes: it goes back to the queue as a message of
its own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import openai
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core import messages
from longhaul.core.artifacts.service import ArchiveResult, archive_job_artifacts
from longhaul.core.artifacts.sources import code_interpreter_containers, find_sources
from longhaul.core.config import Settings
from longhaul.core.costs.holds import release_holds
from longhaul.core.costs.ledger import write_ledger
from longhaul.core.jobs import extract
from longhaul.core.jobs.common import release
from longhaul.core.jobs.driver import drive
from longhaul.core.jobs.heartbeat import keep_lease
from longhaul.core.jobs.lifecycle import Status, Step
from longhaul.core.jobs.state import claim, claim_many, transition
from longhaul.core.models import Job, ToolCall, utcnow
from longhaul.core.models.artifacts import Artifact
from longhaul.core.webhooks.outbox import pending_delivery_ids, record_final_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    job: Job
    owner: str
    response: dict[str, Any]


class Finalize:
    """Archive the job's files (one checkpoint per file), then write its end in one
    transaction. Returns the final status, or None when another run owns or finished it, or
    files failed and the job comes back later."""

    def __init__(
        self,
        job_id: str,
        *,
        client: openai.OpenAI | None,  # None: a job without files makes no upstream call
        settings: Settings,
        token: str | None,
    ) -> None:
        self.job_id, self.client, self.settings, self.token = job_id, client, settings, token
        self.session: Session | None = None

    def claim(self, session: Session) -> Claimed | None:
        self.session = session  # the archive writes its rows through the driver's session
        claimed = claim(
            session,
            self.job_id,
            [Status.FINALIZING],
            lease_seconds=self.settings.lease_seconds,
            token=self.token,
        )
        if claimed is None:
            return None
        job, owner = claimed
        return Claimed(job, owner, job.response_body or {})

    def calls_out(self, claimed: Claimed) -> bool:
        return has_files(claimed.response)

    def call(self, claimed: Claimed, checkpoint: Callable[[], None]) -> ArchiveResult | None:
        if not has_files(claimed.response):
            return None
        assert self.session is not None and self.client is not None
        with keep_lease(claimed.job.id, claimed.owner, self.settings.lease_seconds):
            return archive_job_artifacts(
                self.session,
                claimed.job,
                claimed.response,
                upstream=self.client,
                checkpoint=checkpoint,
            )

    def record(
        self, session: Session, claimed: Claimed, archived: ArchiveResult | None
    ) -> str | None:
        job, owner, response = claimed.job, claimed.owner, claimed.response
        failed = archived is not None and archived.counts.get("failed")
        if failed and _retry_artifacts_later(session, job.id, owner, self.settings):
            return None
        now = utcnow()
        status = extract.final_status(
            job.upstream_status, job.error, job.cancel_requested_at is not None
        )
        error = job.error
        if status == Status.FAILED and not error:
            error = response.get("error") or {"code": "failed", "message": "The response failed."}
        if status in (Status.COMPLETED, Status.INCOMPLETE) and not job.error:
            error = None
        # The compare-and-set first: a run that lost it writes nothing else.
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
            return None
        _record_tool_calls(session, job.id, response)
        if response:
            write_ledger(session, done, response)  # releases its budget hold too
        else:  # ended without an upstream response (cancelled while queued, refused)
            release_holds(session, [job.id])
        record_final_event(session, done)
        # The webhook goes out now rather than at the next delivery tick (the tick is the net).
        deliveries = pending_delivery_ids(session, job.id)
        messages.send_after_commit(session, *map(messages.deliver, deliveries))
        log.info("job %s finalized as %s", job.id, status)
        return status

    def idle(self) -> None:
        return None


def finalize_job(
    session: Session,
    job_id: str,
    *,
    client: openai.OpenAI,
    settings: Settings,
    token: str | None = None,
) -> str | None:
    return drive(session, Finalize(job_id, client=client, settings=settings, token=token))


def finalize_jobs(
    session: Session, job_ids: list[str], *, settings: Settings, token: str | None = None
) -> dict[str, str | None]:
    """End a batch of ``finalizing`` jobs: one claim (committed), then each job without files
    recorded and committed on its own, so a tenant's rows (month spend, hold totals) are locked
    for one job's writes, never a batch's; a job whose record raises is released to come back
    later. Jobs with files are released at once and sent on as single ``finalize`` messages.
    Returns each claimed job's final status (None: not ended now)."""
    owner, jobs = claim_many(
        session, job_ids, [Status.FINALIZING], lease_seconds=settings.lease_seconds, token=token
    )
    session.commit()
    results: dict[str, str | None] = {}
    for job in jobs:
        response = job.response_body or {}
        if has_files(response):
            release(session, job.id, owner, next_poll_at=utcnow() + timedelta(seconds=30))
            messages.send_after_commit(session, messages.step(Step.FINALIZE, job.id))
            session.commit()
            results[job.id] = None
            continue
        step = Finalize(job.id, client=None, settings=settings, token=None)
        try:
            results[job.id] = step.record(session, Claimed(job, owner, response), None)
            session.commit()
        except Exception:  # this job only: the batch goes on
            session.rollback()
            log.exception("job %s: finalize failed; it comes back in a minute", job.id)
            release(session, job.id, owner, next_poll_at=utcnow() + timedelta(seconds=60))
            session.commit()
            results[job.id] = None
    return results


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

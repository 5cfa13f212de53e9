"""Submit: one non-idempotent ``responses.create`` per attempt, sent only once ``submitting`` is
committed (the driver commits the claim first); transient errors go back to ``queued`` with
backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import openai
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core import failures, metrics, upstream
from longhaul.core.config import Settings
from longhaul.core.errors import NotFound, Transient
from longhaul.core.jobs.cancel import start_cancel
from longhaul.core.jobs.common import hand_to_finalize, poll_policy, retry_policy
from longhaul.core.jobs.driver import drive
from longhaul.core.jobs.lifecycle import UPSTREAM_TERMINAL, Status
from longhaul.core.jobs.state import appended_history, claim_many, history_entry, transition
from longhaul.core.models import Job, utcnow
from longhaul.core.streams.policy import relay_owned
from longhaul.core.upstreams.clients import specs_for
from longhaul.core.upstreams.spec import UpstreamSpec

log = logging.getLogger(__name__)


def upstream_body(job: Job) -> dict[str, Any]:
    body = dict(job.request_body)
    body["background"] = True
    body["store"] = True
    body.pop("stream", None)  # a worker's create never streams; the relay's does (core/streams)
    body.pop("stream_options", None)
    body["metadata"] = {**(body.get("metadata") or {}), "longhaul_job_id": job.id}
    return body


@dataclass(frozen=True)
class Claimed:
    owner: str
    jobs: list[Job]
    specs: dict[str | None, UpstreamSpec]  # each upstream the batch's jobs use
    unusable: dict[str, Transient]  # upstreams whose secret can't be read: their jobs wait


Outcome = list[upstream.RawResult | BaseException]


class Submit:
    """One ``responses.create`` attempt for each job of a batch (the sweep reserves them under
    one token), sent concurrently on the async SDK; driven by ``driver.drive``. ``client`` (a
    sync SDK client) sends them one by one instead (tests hook their requests)."""

    def __init__(
        self,
        job_ids: list[str],
        *,
        settings: Settings,
        token: str | None,
        client: openai.OpenAI | None = None,
        runner: upstream.AsyncUpstream | None = None,
    ) -> None:
        self.job_ids, self.settings, self.token = job_ids, settings, token
        self.client, self.runner = client, runner

    def claim(self, session: Session) -> Claimed | None:
        now = utcnow()
        # Young streaming jobs are the relay's: its create is their stream.
        relayed = relay_owned(session, self.job_ids, self.settings, self.token)
        ids = [i for i in self.job_ids if i not in relayed]
        if not ids:
            return None
        # One statement takes the leases and moves the jobs to `submitting` (deadline permitting).
        owner, jobs = claim_many(
            session,
            ids,
            [Status.QUEUED],
            lease_seconds=self.settings.lease_seconds,
            token=self.token,
            now=now,
            only_if=Job.deadline_at > now,
            status=Status.SUBMITTING,
            submit_attempts=Job.submit_attempts + 1,
            state_history=appended_history(history_entry(Status.SUBMITTING, now)),
            updated_at=now,
        )
        if len(jobs) < len(ids):
            _past_deadline_before_submit(session, set(ids) - {j.id for j in jobs}, now)
        if not jobs:
            return None
        unusable: dict[str, Transient] = {}
        specs = specs_for(
            session, {j.upstream_id for j in jobs}, settings=self.settings, unusable=unusable
        )
        return Claimed(owner, jobs, specs, unusable)

    def calls_out(self, claimed: Claimed) -> bool:
        return True

    def call(self, claimed: Claimed, checkpoint: Callable[[], None]) -> Outcome:
        bodies = [upstream_body(job) for job in claimed.jobs]
        if self.client is not None:
            return [_create(self.client, body) for body in bodies]
        runner = self.runner or upstream.get_async_upstream()
        # Each job on its own upstream's client; a job whose upstream is gone fails.
        clients = [
            runner.client_for(spec)
            if (spec := claimed.specs.get(job.upstream_id))
            else claimed.unusable.get(job.upstream_id or "")
            for job in claimed.jobs
        ]
        return runner.run(lambda _: _create_all(clients, bodies))

    def record(self, session: Session, claimed: Claimed, outcome: Outcome) -> None:
        for job, result in zip(claimed.jobs, outcome, strict=True):
            if isinstance(result, BaseException):
                exc = result if isinstance(result, Exception) else RuntimeError(str(result))
                record_failure(session, job, claimed.owner, exc, self.settings)
            else:
                record_created(
                    session,
                    job.id,
                    claimed.owner,
                    result.body,
                    settings=self.settings,
                    poll_after_ms=result.headers.get("openai-poll-after-ms"),
                )

    def idle(self) -> None:
        return None


def _create(client: openai.OpenAI, body: dict[str, Any]) -> upstream.RawResult | Exception:
    try:
        return upstream.create(client, body)
    except Exception as exc:  # an outcome: recorded, never lost
        return exc


async def _create_all(
    clients: list[openai.AsyncOpenAI | Transient | None], bodies: list[dict[str, Any]]
) -> list[upstream.RawResult | BaseException]:
    async def one(
        client: openai.AsyncOpenAI | Transient | None, body: dict[str, Any]
    ) -> upstream.RawResult:
        if isinstance(client, Transient):  # its upstream's secret can't be read: it waits
            raise client
        if client is None:
            raise NotFound("The job's upstream no longer exists.")
        return await upstream.acreate(client, body)

    calls = [one(c, b) for c, b in zip(clients, bodies, strict=True)]
    return list(await asyncio.gather(*calls, return_exceptions=True))


def submit_jobs(
    session: Session,
    job_ids: list[str],
    *,
    settings: Settings,
    token: str | None = None,
    runner: upstream.AsyncUpstream | None = None,
) -> None:
    """Submit the jobs this message still holds (all of them with the sweep's ``token``)."""
    drive(session, Submit(job_ids, settings=settings, token=token, runner=runner))


def submit_job(
    session: Session,
    job_id: str,
    *,
    client: openai.OpenAI,
    settings: Settings,
    token: str | None = None,
) -> None:
    """One job through a sync SDK client (one create, one by one)."""
    drive(session, Submit([job_id], settings=settings, token=token, client=client))


def record_created(
    session: Session,
    job_id: str,
    owner: str,
    body: dict[str, Any],
    *,
    settings: Settings,
    poll_after_ms: str | None = None,
) -> Job | None:
    """The upstream accepted the create (a worker's call, or the relay's ``response.created``):
    store its id and move on to ``in_progress``, or straight to finalize when it finished at
    once. A cancel requested meanwhile starts now. Returns the running job, if it runs."""
    now = utcnow()
    status = body.get("status")
    created: dict[str, Any] = dict(
        upstream_response_id=body.get("id"),
        upstream_status=status,
        submitted_at=now,
        service_tier=body.get("service_tier"),
        error=None,  # an earlier attempt's error stays in state_history only
    )
    if status in UPSTREAM_TERMINAL:  # finished at once: straight to finalize, one statement
        hand_to_finalize(
            session,
            job_id,
            [Status.SUBMITTING],
            now=now,
            owner=owner,
            via=Status.IN_PROGRESS,
            response_body=body,
            upstream_finished_at=now,
            **created,
        )
        return None
    delay = poll_policy(settings).next_delay(0, poll_after_ms)
    running = transition(
        session,
        job_id,
        [Status.SUBMITTING],
        Status.IN_PROGRESS,
        now=now,
        owned_by=owner,
        next_poll_at=now + timedelta(seconds=delay),
        lease_until=None,
        lease_owner=None,
        **created,
    )
    if running is not None and running.cancel_requested_at is not None:
        start_cancel(session, running, now)
    return running


def _past_deadline_before_submit(session: Session, job_ids: set[str], now: datetime) -> None:
    """Of jobs the claim did not take, those still queued past their deadline fail now."""
    late = session.execute(
        select(Job.id).where(
            Job.id.in_(job_ids), Job.status == Status.QUEUED, Job.deadline_at <= now
        )
    ).scalars()
    err = {
        "code": "deadline_exceeded",
        "message": "The job's deadline passed before it could be submitted upstream.",
        "type": "timeout",
    }
    for job_id in late:
        hand_to_finalize(session, job_id, [Status.QUEUED], now=now, reason="deadline", error=err)


def record_failure(
    session: Session, job: Job, owner: str, exc: Exception, settings: Settings
) -> None:
    """The create failed: back in line with backoff while the error is transient and attempts
    remain, else to finalize (failed)."""
    metrics.upstream_error(exc)
    info = failures.classify(exc)
    now = utcnow()
    dup = job.possibly_duplicated or info.maybe_sent
    if info.transient and job.submit_attempts < settings.submit_max_attempts:
        delay = retry_policy(settings).delay(job.submit_attempts, info.retry_after)
        log.warning("submit %s: transient %s, retrying in %.1fs", job.id, info.error, delay)
        requeued = transition(
            session,
            job.id,
            [Status.SUBMITTING],
            Status.QUEUED,
            now=now,
            owned_by=owner,
            reason=info.error.get("code") or info.error.get("type") or "upstream_error",
            history_error=info.error,
            error=info.error,
            possibly_duplicated=dup,
            next_poll_at=now + timedelta(seconds=delay),
            lease_until=None,
            lease_owner=None,
        )
        if requeued is not None and requeued.cancel_requested_at is not None:
            # Cancelled while this attempt was in flight: it never reached upstream; stop here.
            hand_to_finalize(
                session, job.id, [Status.QUEUED], now=now, reason="cancel_requested", error=None
            )
        return
    log.warning("submit %s: failed permanently: %s", job.id, info.error)
    hand_to_finalize(
        session,
        job.id,
        [Status.SUBMITTING],
        now=now,
        owner=owner,
        reason="submit_failed",
        error=info.error,
        possibly_duplicated=dup,
    )

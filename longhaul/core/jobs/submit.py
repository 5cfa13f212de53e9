"""Submit: one non-idempotent ``responses.create`` per attempt, sent only once ``submitting`` is
committed (the driver commits the claim first); transient errors go back to ``queued`` with
backoff."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import openai
from sqlalchemy.orm import Session

from longhaul.core import failures, metrics, upstream
from longhaul.core.config import Settings
from longhaul.core.jobs.cancel import start_cancel
from longhaul.core.jobs.common import hand_to_finalize, poll_policy, retry_policy
from longhaul.core.jobs.driver import drive
from longhaul.core.jobs.lifecycle import UPSTREAM_TERMINAL, Status
from longhaul.core.jobs.state import appended_history, claim, history_entry, transition
from longhaul.core.models import Job, utcnow
from longhaul.core.streams.policy import relay_creates

log = logging.getLogger(__name__)


def upstream_body(job: Job) -> dict[str, Any]:
    body = dict(job.request_body)
    body["background"] = True
    body["store"] = True
    body.pop("stream", None)  # a worker's create never streams; the relay's does (core/streams)
    body["metadata"] = {**(body.get("metadata") or {}), "longhaul_job_id": job.id}
    return body


@dataclass(frozen=True)
class Claimed:
    job: Job
    owner: str


class Submit:
    """One ``responses.create`` attempt, driven by ``driver.drive``."""

    def __init__(
        self, job_id: str, *, client: openai.OpenAI, settings: Settings, token: str | None
    ) -> None:
        self.job_id, self.client, self.settings, self.token = job_id, client, settings, token

    def claim(self, session: Session) -> Claimed | None:
        now = utcnow()
        if relay_creates(session, self.job_id, self.settings, self.token):
            return None  # a streaming job: the relay's create is its stream
        # One statement takes the lease and moves the job to `submitting` (deadline permitting).
        claimed = claim(
            session,
            self.job_id,
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
        if claimed is None:
            _past_deadline_before_submit(session, self.job_id, now)
            return None
        return Claimed(*claimed)

    def calls_out(self, claimed: Claimed) -> bool:
        return True

    def call(
        self, claimed: Claimed, checkpoint: Callable[[], None]
    ) -> upstream.RawResult | Exception:
        try:
            return upstream.create(self.client, upstream_body(claimed.job))
        except Exception as exc:  # an outcome: recorded, never lost
            return exc

    def record(
        self, session: Session, claimed: Claimed, outcome: upstream.RawResult | Exception
    ) -> None:
        if isinstance(outcome, Exception):
            record_failure(session, claimed.job, claimed.owner, outcome, self.settings)
        else:
            record_created(
                session,
                claimed.job.id,
                claimed.owner,
                outcome.body,
                settings=self.settings,
                poll_after_ms=outcome.headers.get("openai-poll-after-ms"),
            )

    def idle(self) -> None:
        return None


def submit_job(
    session: Session,
    job_id: str,
    *,
    client: openai.OpenAI,
    settings: Settings,
    token: str | None = None,
) -> None:
    drive(session, Submit(job_id, client=client, settings=settings, token=token))


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


def _past_deadline_before_submit(session: Session, job_id: str, now: datetime) -> None:
    job = session.get(Job, job_id)
    if job is None or job.status != Status.QUEUED or job.deadline_at > now:
        return
    err = {
        "code": "deadline_exceeded",
        "message": "The job's deadline passed before it could be submitted upstream.",
        "type": "timeout",
    }
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
            reason=str(info.error.get("code")),
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

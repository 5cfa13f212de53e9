"""Cancel: a queued job never reaches upstream; a running one is cancelled upstream and the
upstream's answer (it may have finished first) decides the outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import openai
from sqlalchemy import update
from sqlalchemy.orm import Session

from longhaul.core import failures, messages, metrics, upstream
from longhaul.core.config import Settings
from longhaul.core.jobs.common import hand_to_finalize, release, upstream_finished
from longhaul.core.jobs.driver import drive
from longhaul.core.jobs.lifecycle import UPSTREAM_TERMINAL, Status, Step
from longhaul.core.jobs.state import claim, transition
from longhaul.core.models import Job, utcnow

log = logging.getLogger(__name__)


def request_cancel(session: Session, job: Job) -> bool:
    """User cancel. Queued: never reaches upstream. Running: cancel upstream, then confirm.
    Each branch is a compare-and-set; if the job moved on meanwhile, look again. The caller
    commits. Returns whether this call changed anything."""
    for _ in range(3):
        now = utcnow()
        if job.status == Status.QUEUED:
            if hand_to_finalize(
                session,
                job.id,
                [Status.QUEUED],
                now=now,
                reason="cancel_requested",
                cancel_requested_at=now,
                error=None,
            ):
                return True
        elif job.status == Status.SUBMITTING:
            # The submit step sees the flag once the upstream id is stored, and cancels then.
            marked = session.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == Status.SUBMITTING)
                .values(cancel_requested_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if marked:
                return True
        elif job.status == Status.IN_PROGRESS:
            if start_cancel(session, job, now):
                return True
        else:
            return False  # already cancelling, finalizing or finished: cancel is idempotent
        session.refresh(job)
    return False


def start_cancel(session: Session, job: Job, now: datetime) -> bool:
    """Move a running job to ``cancelling`` and queue the cancel step for after the commit."""
    done = transition(
        session,
        job.id,
        [Status.IN_PROGRESS],
        Status.CANCELLING,
        now=now,
        cancel_requested_at=job.cancel_requested_at or now,
        next_poll_at=now + timedelta(seconds=5),
    )
    if done is None:
        return False
    messages.send_after_commit(session, messages.step(Step.CANCEL, job.id))
    return True


@dataclass(frozen=True)
class Claimed:
    job: Job
    owner: str


class Cancel:
    """Send the upstream cancel; the response's status decides (it may have finished first)."""

    def __init__(
        self, job_id: str, *, client: openai.OpenAI, settings: Settings, token: str | None
    ) -> None:
        self.job_id, self.client, self.settings, self.token = job_id, client, settings, token

    def claim(self, session: Session) -> Claimed | None:
        claimed = claim(
            session,
            self.job_id,
            [Status.CANCELLING],
            lease_seconds=self.settings.lease_seconds,
            token=self.token,
        )
        return None if claimed is None else Claimed(*claimed)

    def calls_out(self, claimed: Claimed) -> bool:
        return True

    def call(
        self, claimed: Claimed, checkpoint: Callable[[], None]
    ) -> upstream.RawResult | Exception:
        try:
            return upstream.cancel(self.client, claimed.job.upstream_response_id or "")
        except Exception as exc:
            return exc

    def record(
        self, session: Session, claimed: Claimed, outcome: upstream.RawResult | Exception
    ) -> None:
        job, owner = claimed.job, claimed.owner
        if isinstance(outcome, Exception):
            metrics.upstream_error(outcome)
            info = failures.classify(outcome)
            log.warning("cancel %s: %s; confirming by polling", job.id, info.error)
            release(session, job.id, owner, next_poll_at=utcnow() + timedelta(seconds=1))
            return
        body, now = outcome.body, utcnow()
        if body.get("status") in UPSTREAM_TERMINAL:
            upstream_finished(session, job, body, now, owner=owner)
            return
        release(
            session,
            job.id,
            owner,
            upstream_status=body.get("status"),
            next_poll_at=now + timedelta(seconds=1),
        )

    def idle(self) -> None:
        return None


def cancel_job(
    session: Session,
    job_id: str,
    *,
    client: openai.OpenAI,
    settings: Settings,
    token: str | None = None,
) -> None:
    drive(session, Cancel(job_id, client=client, settings=settings, token=token))

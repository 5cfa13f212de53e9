"""Poll a batch of due jobs: one UPDATE starts their leases, the ``retrieve`` calls run
concurrently on the async SDK, and one UPDATE records every job still running (a finished job is
handed to finalize). Past its deadline a job is cancelled upstream and fails with
``deadline_exceeded``."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import openai
from sqlalchemy import DateTime, Integer, String, column, func, or_, update, values
from sqlalchemy.orm import Session

from longhaul.core import failures, metrics, upstream
from longhaul.core.config import Settings
from longhaul.core.errors import NotFound, Transient
from longhaul.core.jobs.common import (
    hand_to_finalize,
    next_poll_keeping_wake,
    poll_policy,
    retry_policy,
)
from longhaul.core.jobs.driver import drive
from longhaul.core.jobs.lifecycle import RUNNING, UPSTREAM_TERMINAL
from longhaul.core.models import Job, utcnow
from longhaul.core.upstreams.clients import specs_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Polled:
    id: str
    response_id: str
    poll_count: int
    deadline_at: datetime
    created_at: datetime
    upstream_id: str | None = None


@dataclass(frozen=True)
class Claimed:
    owner: str
    leased_until: datetime
    live: list[Polled]  # to retrieve
    late: list[Polled]  # past their deadline: to cancel
    clients: dict[str | None, openai.AsyncOpenAI]  # one per upstream the batch touches
    unusable: dict[str, Transient]  # upstreams whose secret can't be read: their jobs wait
    runner: upstream.AsyncUpstream


Outcome = list[upstream.RawResult | BaseException]


class Poll:
    """One batch of polls, driven by ``driver.drive``; returns the ids handed to finalize."""

    def __init__(
        self,
        job_ids: list[str],
        *,
        settings: Settings,
        token: str | None,
        runner: upstream.AsyncUpstream | None,
    ) -> None:
        self.job_ids, self.settings, self.token, self.runner = job_ids, settings, token, runner

    def claim(self, session: Session) -> Claimed | None:
        now = utcnow()
        leased_until = now + timedelta(seconds=self.settings.lease_seconds)
        owner, jobs = _start(session, self.job_ids, self.token, now, leased_until)
        if not jobs:
            return None
        late = [j for j in jobs if j.deadline_at <= now]
        live = [j for j in jobs if j.deadline_at > now]
        runner = self.runner or upstream.get_async_upstream()
        unusable: dict[str, Transient] = {}
        specs = specs_for(
            session, {j.upstream_id for j in jobs}, settings=self.settings, unusable=unusable
        )
        clients = {uid: runner.client_for(spec) for uid, spec in specs.items()}
        return Claimed(owner, leased_until, live, late, clients, unusable, runner)

    def calls_out(self, claimed: Claimed) -> bool:
        return True

    def call(self, claimed: Claimed, checkpoint: Callable[[], None]) -> Outcome:
        # Each call's failure is its own outcome (gathered); should the loop itself fail, the
        # step raises and the leases run out: the jobs are due again.
        return claimed.runner.run(
            lambda _: _fetch(claimed.clients, claimed.unusable, claimed.live, claimed.late)
        )

    def record(self, session: Session, claimed: Claimed, outcome: Outcome) -> list[str]:
        now, owner, settings = utcnow(), claimed.owner, self.settings
        finished: list[str] = []
        running: list[dict[str, Any]] = []
        jobs = claimed.live + claimed.late
        for i, (job, result) in enumerate(zip(jobs, outcome, strict=True)):
            if i >= len(claimed.live):
                handed = _deadline(session, job, owner, result, now)
            elif isinstance(result, BaseException):
                handed = _failed(session, job, owner, result, settings, now, running)
            elif (status := result.body.get("status")) in UPSTREAM_TERMINAL:
                handed = hand_to_finalize(
                    session,
                    job.id,
                    RUNNING,
                    now=now,
                    owner=owner,
                    response_body=result.body,
                    upstream_status=status,
                    upstream_finished_at=now,
                    poll_count=job.poll_count + 1,
                )
            else:
                handed = False
                delay = poll_policy(settings).next_delay(
                    job.poll_count + 1, result.headers.get("openai-poll-after-ms")
                )
                due = now + timedelta(seconds=delay)
                running.append({"id": job.id, "status": status, "due": due})
            if handed:
                finished.append(job.id)
        _record(session, running, owner, claimed.leased_until, now)
        return finished

    def idle(self) -> list[str]:
        return []


def poll_jobs(
    session: Session,
    job_ids: list[str],
    *,
    settings: Settings,
    token: str | None = None,
    runner: upstream.AsyncUpstream | None = None,
) -> list[str]:
    """Poll the jobs this message still holds (all of them with the sweep's ``token``; without
    one, those not leased). Returns the ids handed to finalize (their messages leave after the
    commit)."""
    return drive(session, Poll(job_ids, settings=settings, token=token, runner=runner))


def _start(
    session: Session, job_ids: list[str], token: str | None, now: datetime, until: datetime
) -> tuple[str, list[Polled]]:
    """The lease starts now (not when the sweep sent the message); ``next_poll_at`` moves to its
    end, so a job whose worker dies is due again when the lease runs out."""
    owner = secrets.token_hex(8)
    stmt = (
        update(Job)
        .where(Job.id.in_(job_ids), Job.status.in_(RUNNING), Job.deleted_at.is_(None))
        .values(lease_owner=owner, lease_until=until, next_poll_at=until)
        .returning(
            Job.id,
            Job.upstream_response_id,
            Job.poll_count,
            Job.deadline_at,
            Job.created_at,
            Job.upstream_id,
        )
        .execution_options(synchronize_session=False)
    )
    if token:
        stmt = stmt.where(Job.lease_owner == token)
    else:
        stmt = stmt.where(or_(Job.lease_until.is_(None), Job.lease_until < now))
    rows = session.execute(stmt).all()
    return owner, [Polled(r[0], r[1] or "", r[2], r[3], r[4], r[5]) for r in rows]


async def _fetch(
    clients: dict[str | None, openai.AsyncOpenAI],
    unusable: dict[str, Transient],
    live: list[Polled],
    late: list[Polled],
) -> list[upstream.RawResult | BaseException]:
    """Each job on its own upstream's client (a job whose upstream is gone fails; one whose
    upstream's secret can't be read waits, as after a transient error)."""

    async def on(job: Polled, call: Any) -> upstream.RawResult:
        client = clients.get(job.upstream_id)
        if client is None:
            if job.upstream_id in unusable:
                raise unusable[job.upstream_id]
            raise NotFound(f"The job's upstream {job.upstream_id!r} no longer exists.")
        return await call(client, job.response_id)  # type: ignore[no-any-return]

    calls = [on(j, upstream.aretrieve) for j in live]
    calls += [on(j, upstream.acancel) for j in late]
    return list(await asyncio.gather(*calls, return_exceptions=True))


def _record(
    session: Session,
    rows: list[dict[str, Any]],
    owner: str,
    leased_until: datetime,
    now: datetime,
) -> None:
    """Every job still running in one statement: its status, count and next due time (kept
    earlier if an inbound webhook woke it meanwhile), lease released."""
    if not rows:
        return
    data = values(
        column("id", String),
        column("status", String),
        column("bump", Integer),
        column("due", DateTime(timezone=True)),
        name="polled",
    ).data([(r["id"], r["status"], 1, r["due"]) for r in rows])
    session.execute(
        update(Job)
        .where(Job.id == data.c.id, Job.lease_owner == owner)
        .values(
            upstream_status=func.coalesce(data.c.status, Job.upstream_status),
            poll_count=Job.poll_count + data.c.bump,
            next_poll_at=next_poll_keeping_wake(data.c.due, leased_until),
            lease_until=None,
            lease_owner=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def _failed(
    session: Session,
    job: Polled,
    owner: str,
    exc: BaseException,
    settings: Settings,
    now: datetime,
    running: list[dict[str, Any]],
) -> bool:
    metrics.upstream_error(exc)
    info = failures.classify(exc)
    if info.transient:
        delay = max(
            retry_policy(settings).delay(1, info.retry_after),
            poll_policy(settings).next_delay(job.poll_count),
        )
        running.append({"id": job.id, "status": None, "due": now + timedelta(seconds=delay)})
        return False
    # The upstream no longer knows the response (404: expired/deleted) or refuses: fail the job.
    log.warning("poll %s: permanent error %s", job.id, info.error)
    return hand_to_finalize(
        session,
        job.id,
        RUNNING,
        now=now,
        owner=owner,
        reason="poll_failed",
        error=info.error,
        poll_count=job.poll_count + 1,
    )


def _deadline(
    session: Session,
    job: Polled,
    owner: str,
    result: upstream.RawResult | BaseException,
    now: datetime,
) -> bool:
    body: dict[str, Any] | None = None
    if isinstance(result, BaseException):  # best effort: the job fails with a timeout either way
        log.warning("deadline cancel of %s failed: %s", job.id, result)
    else:
        body = result.body
    seconds = int((job.deadline_at - job.created_at).total_seconds())
    err = {
        "code": "deadline_exceeded",
        "type": "timeout",
        "message": f"The job did not finish within its deadline of {seconds} s and was "
        "cancelled upstream.",
    }
    return hand_to_finalize(
        session,
        job.id,
        RUNNING,
        now=now,
        owner=owner,
        reason="deadline",
        error=err,
        response_body=body,
        upstream_status=(body or {}).get("status"),
    )

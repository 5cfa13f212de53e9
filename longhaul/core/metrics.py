"""Prometheus metrics.

Two kinds (docs/operations.md lists every family):

- *Events*, counted where they happen through the small hook functions below (job transitions
  and phase latencies, upstream errors, webhook attempts, task durations). In a prefork worker
  they go to prometheus_client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, set by
  ``longhaul worker``) and the worker's main process serves their sum; in the API they live in
  the process.
- *State*, computed at scrape time from PostgreSQL and Redis, the sources of truth: jobs by
  status, queue depths, pending webhooks, cost by model and tool, artifacts by status, sweep lag.
  Only the API serves these, so they are right whatever process died in between.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from longhaul.core import messages
from longhaul.core.jobs.lifecycle import ACTIVE, TERMINAL, Status
from longhaul.core.models import Job, utcnow
from longhaul.core.streams.fanout import relays_alive

log = logging.getLogger(__name__)

# Phases of a job, from its timestamps: seconds to minutes for the first and last two, minutes
# to hours upstream.
PHASE_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)

JOB_TRANSITIONS = Counter(
    "longhaul_job_transitions_total", "Job state changes, by the state entered", ["to"]
)
JOB_PHASE_SECONDS = Histogram(
    "longhaul_job_phase_seconds",
    "Time a job spent in each phase: queued_to_submitted, submitted_to_upstream_finished, "
    "upstream_finished_to_final, final_to_webhook_delivered",
    ["phase"],
    buckets=PHASE_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "longhaul_upstream_errors_total",
    "Failed upstream calls by HTTP status (or connection_error / timeout) and error code",
    ["status", "code"],
)
UPSTREAM_RATE_LIMITED = Counter(
    "longhaul_upstream_rate_limited_total", "Upstream calls answered 429 (rate limit or quota)"
)
WEBHOOK_ATTEMPTS = Counter(
    "longhaul_webhook_attempts_total",
    "Outbound webhook attempts by outcome: delivered, pending (will retry), failed, disabled",
    ["outcome"],
)
TASK_SECONDS = Histogram(
    "longhaul_task_duration_seconds",
    "Celery task run time by task (the sweep is longhaul.maintenance.sweep)",
    ["task", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def job_transition(job: Job, to_state: str, values: dict[str, Any]) -> None:
    """Called by every successful compare-and-set transition. Never raises."""
    try:
        JOB_TRANSITIONS.labels(to_state).inc()
        if to_state == Status.IN_PROGRESS and "submitted_at" in values:
            _phase("queued_to_submitted", _seconds(job.created_at, job.submitted_at))
        if to_state in TERMINAL:
            finished = job.finished_at or job.updated_at
            upstream_done = job.upstream_finished_at
            _phase("submitted_to_upstream_finished", _seconds(job.submitted_at, upstream_done))
            _phase("upstream_finished_to_final", _seconds(upstream_done, finished))
    except Exception:  # metrics never break a job
        log.debug("job transition metric failed", exc_info=True)


def _phase(name: str, seconds: float | None) -> None:
    if seconds is not None:
        JOB_PHASE_SECONDS.labels(name).observe(seconds)


def upstream_error(exc: BaseException) -> None:
    """Called for every failed upstream call (before it is classified)."""
    try:
        status = getattr(exc, "status_code", None)
        if status is None:
            status = "timeout" if "Timeout" in type(exc).__name__ else "connection_error"
        body = getattr(exc, "body", None)
        code = (body.get("code") if isinstance(body, dict) else None) or getattr(exc, "code", "")
        UPSTREAM_ERRORS.labels(str(status), str(code or "")).inc()
        if status == 429:
            UPSTREAM_RATE_LIMITED.inc()
    except Exception:
        log.debug("upstream error metric failed", exc_info=True)


def webhook_attempt(session: Session, job_id: str, outcome: str, at: datetime) -> None:
    """Called after each outbound webhook attempt; a delivery also times final -> delivered."""
    try:
        WEBHOOK_ATTEMPTS.labels(outcome).inc()
        if outcome == "delivered":
            finished = session.execute(select(Job.finished_at).where(Job.id == job_id)).scalar()
            _phase("final_to_webhook_delivered", _seconds(finished, at))
    except Exception:
        log.debug("webhook metric failed", exc_info=True)


STATUSES: tuple[str, ...] = tuple(Status)


def jobs_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Job.status, func.count()).where(Job.deleted_at.is_(None)).group_by(Job.status)
    ).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


def queue_depths(redis: Any) -> dict[str, int]:
    """Messages waiting per Celery queue (kombu keeps priority sub-lists) plus the unacked set."""
    depths = {}
    for queue in messages.QUEUES:
        keys = [queue] + [f"{queue}\x06\x16{p}" for p in (3, 6, 9)]
        depths[queue] = sum(int(redis.llen(k)) for k in keys)
    depths["unacked"] = int(redis.hlen("unacked"))
    return depths


def webhook_deliveries(session: Session) -> dict[str, int]:
    from longhaul.core.models.webhooks import WebhookDelivery

    counts = dict.fromkeys(("pending", "delivered", "failed", "disabled"), 0)
    rows = session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    ).all()
    counts.update({status: int(n) for status, n in rows})
    return counts


def cost_by_model_and_tool(session: Session) -> list[tuple[str, str, str, float]]:
    """(model, kind, tool, USD) over the whole ledger: monotonic, so exported as a counter."""
    from longhaul.core.models.costs import LedgerLine

    rows = session.execute(
        select(LedgerLine.model, LedgerLine.kind, LedgerLine.tool, func.sum(LedgerLine.amount))
        .where(LedgerLine.amount.is_not(None))
        .group_by(LedgerLine.model, LedgerLine.kind, LedgerLine.tool)
    ).all()
    return [(m, k, t or "", float(amount or 0)) for m, k, t, amount in rows]


def artifacts_by_status(session: Session) -> dict[str, int]:
    from longhaul.core.models.artifacts import Artifact

    rows = session.execute(select(Artifact.status, func.count()).group_by(Artifact.status)).all()
    return {status: int(n) for status, n in rows}


def sweep_lag_seconds(session: Session, now: datetime | None = None) -> float:
    """How far behind the sweep is: the age of the oldest due, unleased active job (0 if none)."""
    now = now or utcnow()
    oldest = session.execute(
        select(func.min(Job.next_poll_at)).where(
            Job.status.in_(list(ACTIVE - {Status.SUBMITTING})),
            Job.next_poll_at <= now,
            (Job.lease_until.is_(None)) | (Job.lease_until < now),
            Job.deleted_at.is_(None),
        )
    ).scalar()
    return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0


def streams_by_status(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Streams still open (``live`` or ``polling``), and how many of them no relay leases."""
    from longhaul.core.models.streams import JobStream

    now = now or utcnow()
    unleased = (JobStream.lease_until.is_(None)) | (JobStream.lease_until < now)
    rows = session.execute(
        select(JobStream.status, func.count(), func.count().filter(unleased))
        .where(JobStream.status != "done")
        .group_by(JobStream.status)
    ).all()
    counts = {"live": 0, "polling": 0, "unclaimed": 0}
    for status, n, free in rows:
        counts[status] = int(n)
        counts["unclaimed"] += int(free)
    return counts


class LonghaulCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], redis: Any) -> None:
        self.sessions = sessions
        self.redis = redis

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        jobs = GaugeMetricFamily("longhaul_jobs", "Jobs by status", labels=["status"])
        with self.sessions() as session:
            for status, n in jobs_by_status(session).items():
                jobs.add_metric([status], n)
            yield jobs
            yield from self._from_database(session)
        depth = GaugeMetricFamily(
            "longhaul_queue_depth", "Broker messages by queue", labels=["queue"]
        )
        try:
            for queue, n in queue_depths(self.redis).items():
                depth.add_metric([queue], n)
        except Exception:  # Redis down: the metric is absent, /readyz says why
            pass
        yield depth
        relays = GaugeMetricFamily("longhaul_relays", "Relays alive (heartbeat in Redis)")
        try:
            relays.add_metric([], relays_alive(self.redis))
            yield relays
        except Exception:
            pass

    def _from_database(self, session: Session) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        deliveries = webhook_deliveries(session)
        pending = GaugeMetricFamily(
            "longhaul_webhooks_pending", "Outbound webhook deliveries not yet finished"
        )
        pending.add_metric([], deliveries.pop("pending"))
        yield pending
        done = CounterMetricFamily(
            "longhaul_webhook_deliveries",
            "Outbound webhook deliveries finished, by outcome",
            labels=["outcome"],
        )
        for outcome, n in deliveries.items():
            done.add_metric([outcome], n)
        yield done
        cost = CounterMetricFamily(
            "longhaul_cost_usd",
            "Priced cost in USD from the ledger, by model, line kind and tool",
            labels=["model", "kind", "tool"],
        )
        for model, kind, tool, usd in cost_by_model_and_tool(session):
            cost.add_metric([model, kind, tool], usd)
        yield cost
        artifacts = GaugeMetricFamily(
            "longhaul_artifacts", "Artifacts by status (failed = could not be archived)",
            labels=["status"],
        )  # fmt: skip
        for status, n in artifacts_by_status(session).items():
            artifacts.add_metric([status], n)
        yield artifacts
        lag = GaugeMetricFamily(
            "longhaul_sweep_lag_seconds", "Age of the oldest due job no task has taken yet"
        )
        lag.add_metric([], sweep_lag_seconds(session))
        yield lag
        streams = GaugeMetricFamily(
            "longhaul_streams",
            "Event streams not done, by status; unclaimed = no relay holds it (none running?)",
            labels=["status"],
        )
        for status, n in streams_by_status(session).items():
            streams.add_metric([status], n)
        yield streams

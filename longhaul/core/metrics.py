"""Prometheus metrics computed at scrape time from PostgreSQL and Redis (the sources of truth)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from longhaul.core.models import Job

QUEUES = ("submit", "poll", "finalize", "maintenance", "webhooks")
STATUSES = (
    "queued",
    "submitting",
    "in_progress",
    "cancelling",
    "finalizing",
    "completed",
    "failed",
    "cancelled",
    "incomplete",
)


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
    for queue in QUEUES:
        keys = [queue] + [f"{queue}\x06\x16{p}" for p in (3, 6, 9)]
        depths[queue] = sum(int(redis.llen(k)) for k in keys)
    depths["unacked"] = int(redis.hlen("unacked"))
    return depths


class LonghaulCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], redis: Any) -> None:
        self.sessions = sessions
        self.redis = redis

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("longhaul_jobs", "Jobs by status", labels=["status"])
        with self.sessions() as session:
            for status, n in jobs_by_status(session).items():
                jobs.add_metric([status], n)
        yield jobs
        depth = GaugeMetricFamily(
            "longhaul_queue_depth", "Broker messages by queue", labels=["queue"]
        )
        try:
            for queue, n in queue_depths(self.redis).items():
                depth.add_metric([queue], n)
        except Exception:  # Redis down: the metric is absent, /readyz says why
            pass
        yield depth

"""Sending steps, always after the transaction that made them due has committed, and reading
the step queues back from the broker for the sweep's admission control."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable

import redis

from longhaul.core.jobs.lifecycle import QUEUE_FOR_STEP, Step
from longhaul.core.jobs.sweep import QueueState

STEP_TASKS: dict[str, str] = {step: f"longhaul.jobs.{step}" for step in Step}
POLL_BATCH = "longhaul.jobs.poll_batch"
# Every step message carries the time it was sent: the sweep reads it off the oldest message in
# a queue to know which jobs' messages can no longer be waiting there (core/jobs/sweep.py).
SENT_HEADER = "longhaul_sent"
STEP_QUEUES = tuple(dict.fromkeys(QUEUE_FOR_STEP.values()))


def _send(task: str, args: list[object]) -> None:
    from longhaul.worker.app import app

    app.send_task(task, args=args, headers={SENT_HEADER: time.time()})


def send_followups(steps: Iterable[str], job_id: str, token: str | None = None) -> None:
    for step in steps:
        _send(STEP_TASKS[step], [job_id, token])


def send_poll_batch(job_ids: list[str], token: str) -> None:
    _send(POLL_BATCH, [job_ids, token])


def queue_states() -> dict[str, QueueState]:
    """Depth of each step queue and the send time of its oldest message (Redis lists are FIFO:
    ``LPUSH`` in, ``BRPOP`` out, so the oldest sits at index -1)."""
    pipe = _broker().pipeline(transaction=False)
    for queue in STEP_QUEUES:
        pipe.llen(queue)
        pipe.lindex(queue, -1)
    replies = pipe.execute()
    states: dict[str, QueueState] = {}
    for i, queue in enumerate(STEP_QUEUES):
        depth, oldest = replies[2 * i], replies[2 * i + 1]
        states[queue] = QueueState(int(depth), _sent_at(oldest) if depth else None)
    return states


_brokers: dict[tuple[int, str], redis.Redis] = {}


def _broker() -> redis.Redis:
    """One client per process (and broker URL) for the sweep's two reads per queue: the broker
    the app sends to, whatever the settings say now."""
    from longhaul.worker.app import app

    url = str(app.conf.broker_url)
    key = (os.getpid(), url)
    if key not in _brokers:
        _brokers[key] = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    return _brokers[key]


def _sent_at(raw: bytes | None) -> float | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)["headers"][SENT_HEADER]
        return float(value)
    except (ValueError, KeyError, TypeError):
        return None

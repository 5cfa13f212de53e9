"""The worker's sender (``core.messages`` calls it after each commit) and the step queues read
back from the broker for the sweep's admission control."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import redis

from longhaul.core import messages
from longhaul.core.jobs.sweep import QueueState
from longhaul.core.messages import SENT_HEADER, STEP_QUEUES, Message


def send_messages(batch: Sequence[Message]) -> None:
    from longhaul.worker.app import app

    for message in batch:
        app.send_task(message.task, args=list(message.args), headers=messages.headers())


def queue_states(queues: Sequence[str] = STEP_QUEUES) -> dict[str, QueueState]:
    """Depth of each step queue (or ``queues``) and the send time of its oldest message (Redis
    lists are FIFO: ``LPUSH`` in, ``BRPOP`` out, so the oldest sits at index -1)."""
    pipe = _broker().pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)
        pipe.lindex(queue, -1)
    replies = pipe.execute()
    states: dict[str, QueueState] = {}
    for i, queue in enumerate(queues):
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

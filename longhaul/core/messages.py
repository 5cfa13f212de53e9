"""Sending work after commit: one mechanism for every process.

Code that makes work due records its message on the session (``send_after_commit``). The
message leaves when that session's transaction commits and is dropped if it rolls back, so a
worker never runs a step whose state it cannot see yet, and work that was never committed is
never sent (warehouse's after-commit hook, polar's enqueue-after-commit buffer).

Each process installs the one ``Sender``: the worker its Celery app, the API a send-only client
(``api/publisher.py``), tests a list. A failed send is logged and swallowed: the row is the
truth, and the sweep sends again once the job is due.

This module also holds what both Celery configurations must agree on (task names, routes,
serializer, publish retries) as plain data: ``core`` never imports Celery.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from longhaul.core.config import Settings, get_settings
from longhaul.core.jobs.lifecycle import QUEUE_FOR_STEP, Step

log = logging.getLogger(__name__)

# Every message carries the time it was sent: the sweep reads it off the oldest message in a
# queue to know which jobs' messages can no longer be waiting there (core/jobs/sweep.py).
SENT_HEADER = "longhaul_sent"
POLL_BATCH = "longhaul.jobs.poll_batch"
SUBMIT_BATCH = "longhaul.jobs.submit_batch"
FINALIZE_BATCH = "longhaul.jobs.finalize_batch"
DELIVER = "longhaul.webhooks.deliver"
DELIVER_DUE = "longhaul.webhooks.deliver_due"
_PENDING = "longhaul.after_commit"


@dataclass(frozen=True)
class Message:
    """One Celery task message: its name and JSON arguments."""

    task: str
    args: tuple[Any, ...] = ()


Sender = Callable[[Sequence[Message]], None]


def headers() -> dict[str, Any]:
    """Headers of a message sent now."""
    return {SENT_HEADER: time.time()}


def step_task(step: str) -> str:
    return f"longhaul.jobs.{Step(step)}"


def step(step: str, job_id: str, token: str | None = None) -> Message:
    return Message(step_task(step), (job_id, token))


def batch(step: str, job_ids: list[str], token: str | None) -> Message:
    """One message for a batch of jobs: reserved by the sweep under ``token`` (submit, poll,
    finalize), or handed to finalize (no token: the jobs are not leased)."""
    return Message(f"longhaul.jobs.{Step(step)}_batch", (job_ids, token))


def finalize_handover(job_id: str) -> Message:
    """A job handed to finalize; the hand-overs of one commit leave together (``coalesce``)."""
    return batch(Step.FINALIZE, [job_id], None)


def coalesce(messages: Sequence[Message], size: int | None = None) -> list[Message]:
    """Merge the finalize hand-overs among ``messages`` into batch messages of at most ``size``
    jobs (``LONGHAUL_FINALIZE_BATCH_SIZE``: a poll batch that saw 40 jobs end sends 2 finalize
    messages, not 40); the others stay as they are."""
    size = size or get_settings().finalize_batch_size
    handed: list[str] = []
    out: list[Message] = []
    for message in messages:
        if message.task == FINALIZE_BATCH and message.args[1] is None:
            handed += message.args[0]
        else:
            out.append(message)
    for i in range(0, len(handed), size):
        out.append(batch(Step.FINALIZE, handed[i : i + size], None))
    return out


def deliver(delivery_id: str) -> Message:
    return Message(DELIVER, (delivery_id,))


def send_after_commit(session: Session, *messages: Message) -> None:
    if not session.in_transaction():
        session.begin()  # so that its end (commit, rollback or close) settles the messages
    session.info.setdefault(_PENDING, []).extend(messages)


def pending(session: Session) -> list[Message]:
    """Messages waiting for this session's commit (tests read them)."""
    return list(session.info.get(_PENDING, []))


_sender: Sender | None = None


def install(sender: Sender | None) -> Sender | None:
    """Make ``sender`` this process's; returns the one it replaces."""
    global _sender
    previous, _sender = _sender, sender
    return previous


def send_now(messages: Sequence[Message]) -> None:
    """Send outside any transaction (the caller has committed). Never raises."""
    if not messages:
        return
    if _sender is None:
        log.debug("no sender installed; %d message(s) left to the sweep", len(messages))
        return
    try:
        _sender(coalesce(messages))
    except Exception:  # the broker is down: the sweep resends due work once it is back
        log.exception("could not send %d message(s); the sweep will pick them up", len(messages))


@event.listens_for(Session, "after_commit")
def _flush(session: Session) -> None:
    send_now(session.info.pop(_PENDING, []))


@event.listens_for(Session, "after_transaction_end")
def _drop(session: Session, transaction: SessionTransaction) -> None:
    """Rolled back, or closed without a commit: what it queued was never promised."""
    if transaction.parent is None:  # the outermost transaction (a commit has sent them first)
        session.info.pop(_PENDING, None)


# Every job step's queue, plus webhooks and housekeeping (the worker's queues, in order).
# Webhook attempts wait on receivers, so they have a queue (and, by default, a worker) of their
# own: a hanging receiver can hold a webhook slot, never a submit, poll or finalize one.
STEP_QUEUES = tuple(dict.fromkeys(QUEUE_FOR_STEP.values()))
WEBHOOKS_QUEUE = "webhooks"
QUEUES = (*STEP_QUEUES, "maintenance", WEBHOOKS_QUEUE)
JOB_QUEUES = tuple(q for q in QUEUES if q != WEBHOOKS_QUEUE)  # what the jobs worker serves
# What the threads worker serves: webhook attempts, and the beat's ticks (the sweep above all),
# which must never wait behind job steps for a prefork slot: a sweep that waits makes every
# due poll late. The jobs worker serves ``maintenance`` too, should the other be down.
LIGHT_QUEUES = (WEBHOOKS_QUEUE, "maintenance")
ROUTES: dict[str, dict[str, str]] = {
    **{step_task(s): {"queue": q} for s, q in QUEUE_FOR_STEP.items()},
    POLL_BATCH: {"queue": QUEUE_FOR_STEP[Step.POLL]},
    SUBMIT_BATCH: {"queue": QUEUE_FOR_STEP[Step.SUBMIT]},
    FINALIZE_BATCH: {"queue": QUEUE_FOR_STEP[Step.FINALIZE]},
    # The delivery tick is a quick database claim: behind hanging attempts it would come late.
    DELIVER_DUE: {"queue": "maintenance"},
    "longhaul.webhooks.*": {"queue": WEBHOOKS_QUEUE},
    "longhaul.maintenance.*": {"queue": "maintenance"},
}


def celery_options(settings: Settings) -> dict[str, Any]:
    """Celery settings every process that sends must share (names as Celery spells them)."""
    return {
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "broker_transport_options": {
            "visibility_timeout": settings.visibility_timeout,
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
            "socket_keepalive": True,
            "health_check_interval": 25,
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
        },
        # A publish must not hang a request: a few quick retries, then the sweep takes over.
        "task_publish_retry_policy": {
            "max_retries": 3,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "task_send_sent_event": False,  # Flower sees each task when a worker receives it
        "task_default_queue": "maintenance",
        "task_routes": ROUTES,
    }

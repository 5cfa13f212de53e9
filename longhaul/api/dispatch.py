"""Enqueue after commit. If the broker is unreachable the job is still safe in PostgreSQL:
its ``next_poll_at`` makes the sweep pick it up."""

from __future__ import annotations

import logging

from longhaul.worker.dispatch import send_followups

log = logging.getLogger(__name__)


def quiet_publisher() -> None:
    """No ``task-sent`` event per message from the API: it doubled the cost of a create's
    publish (a second Redis command and client), and Flower still sees each task when a
    worker receives it."""
    from longhaul.worker.app import app

    app.conf.task_send_sent_event = False


def enqueue(step: str, job_id: str) -> None:
    try:
        send_followups([step], job_id)
    except Exception:  # the sweep is the safety net
        log.exception("could not enqueue %s for %s; the sweep will pick it up", step, job_id)

"""Enqueue after commit. If the broker is unreachable the job is still safe in PostgreSQL:
its ``next_poll_at`` makes the sweep pick it up."""

from __future__ import annotations

import logging

from longhaul.worker.dispatch import send_followups

log = logging.getLogger(__name__)


def enqueue(step: str, job_id: str) -> None:
    try:
        send_followups([step], job_id)
    except Exception:  # the sweep is the safety net
        log.exception("could not enqueue %s for %s; the sweep will pick it up", step, job_id)

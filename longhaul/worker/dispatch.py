"""Sending follow-up steps, always after the transaction that made them due has committed."""

from __future__ import annotations

from collections.abc import Iterable

STEP_TASKS = {
    "submit": "longhaul.jobs.submit",
    "poll": "longhaul.jobs.poll",
    "cancel": "longhaul.jobs.cancel",
    "finalize": "longhaul.jobs.finalize",
}


def send_followups(steps: Iterable[str], job_id: str, token: str | None = None) -> None:
    from longhaul.worker.app import app

    for step in steps:
        app.send_task(STEP_TASKS[step], args=[job_id, token])

"""Logging of ``longhaul worker`` and ``longhaul beat`` (see ``longhaul.core.logs``).

Text format: Celery's own, with periodic housekeeping demoted to DEBUG. JSON format: Celery
leaves logging to us, and each job task binds its job id, tenant, step and upstream id.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from longhaul.core import logs


def install(fmt: str, level: str) -> None:
    if fmt != "json":
        signals.after_setup_logger.connect(_quiet, weak=False)
        signals.after_setup_task_logger.connect(_quiet, weak=False)
        return
    signals.setup_logging.connect(lambda **_: logs.configure("json", level), weak=False)
    signals.task_prerun.connect(_bind, weak=False)
    signals.task_postrun.connect(lambda **_: logs.clear_job(), weak=False)


def _quiet(logger: logging.Logger | None = None, **_: Any) -> None:
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(logs.QuietHousekeeping())


def _bind(task: Any = None, args: Any = None, **_: Any) -> None:
    """Job tasks take the job id first (a poll batch, a list of them): look up its tenant and
    upstream id once per task. A batch of several jobs binds none (its lines name their jobs)."""
    name = getattr(task, "name", "") or ""
    if not name.startswith("longhaul.jobs.") or not args:
        return
    first = args[0]
    if isinstance(first, list):
        if len(first) != 1:
            return
        first = first[0]
    job_id = str(first)
    tenant = upstream_id = None
    try:
        from sqlalchemy import select

        from longhaul.core.db import session_scope
        from longhaul.core.models import Job

        with session_scope() as session:
            row = session.execute(
                select(Job.tenant_id, Job.upstream_response_id).where(Job.id == job_id)
            ).first()
        if row is not None:
            tenant, upstream_id = row
    except Exception:  # context is a courtesy; the task reports its own errors
        logging.getLogger(__name__).debug("no log context for %s", job_id, exc_info=True)
    step = name.rsplit(".", 1)[-1].removesuffix("_batch")
    logs.bind_job(job_id, step, tenant, upstream_id)

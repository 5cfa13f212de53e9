"""A worker's Prometheus endpoint: task durations, plus every event metric its pool children
count (job transitions, upstream errors, webhook attempts), summed over the children.

Celery's prefork pool runs tasks in child processes, so ``longhaul worker`` points
prometheus_client's multiprocess mode at a fresh folder (``PROMETHEUS_MULTIPROC_DIR``) before
anything creates a metric, and the worker's main process serves the sum of the children's files
on ``LONGHAUL_WORKER_METRICS_PORT``.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import time
from typing import Any

from celery import signals

log = logging.getLogger(__name__)
_started: dict[str, float] = {}


def prepare_multiprocess_dir() -> str:
    """Call before prometheus_client is imported: a fresh folder for this worker's files."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)
    else:
        folder = tempfile.mkdtemp(prefix="longhaul-worker-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        main_pid = os.getpid()  # pool children inherit atexit hooks: only the parent cleans up

        def cleanup() -> None:
            if os.getpid() == main_pid:
                shutil.rmtree(folder, ignore_errors=True)

        atexit.register(cleanup)
    return folder


def install(port: int) -> None:
    signals.task_prerun.connect(_prerun, weak=False)
    signals.task_postrun.connect(_postrun, weak=False)
    signals.worker_process_shutdown.connect(_child_exit, weak=False)
    if port:
        signals.worker_init.connect(lambda **_: _serve(port), weak=False)


def _serve(port: int) -> None:
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    try:
        start_http_server(port, registry=registry)
        log.info("worker metrics on :%d/metrics", port)
    except OSError as exc:  # another worker on this host has the port: run without
        log.warning("worker metrics not served: port %d: %s", port, exc)


def _prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.monotonic()


def _postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    from longhaul.core.metrics import TASK_SECONDS

    started = _started.pop(task_id or "", None)
    if started is not None and task is not None:
        TASK_SECONDS.labels(task.name, (state or "unknown").lower()).observe(
            time.monotonic() - started
        )


def _child_exit(pid: int | None = None, **_: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid or os.getpid())

"""Logging for every process: plain text (default) or JSON lines (``LONGHAUL_LOG_FORMAT=json``).

JSON goes through structlog's stdlib bridge, so the lines of Celery, uvicorn, SQLAlchemy and our
own code all come out as one JSON object each, with whatever context is bound for the current
task (``job_id``, ``tenant``, ``step``, ``upstream_id``; see ``bind_job``). Periodic housekeeping
(sweep, due webhook deliveries, reconcile) and the API's access lines for probes and scrapes
are logged at DEBUG, so INFO stays quiet when idle.
"""

from __future__ import annotations

import logging
from typing import Any

HOUSEKEEPING = (
    "longhaul.maintenance.sweep",
    "longhaul.maintenance.reconcile",
    "longhaul.webhooks.deliver_due",
    "sweep-due-polls",
    "deliver-due-webhooks",
)


PROBE_PATHS = ("/healthz ", "/readyz ", "/metrics ")


class QuietHousekeeping(logging.Filter):
    """Celery's INFO lines about the periodic tasks ("received", "succeeded", "Sending due
    task") become DEBUG lines: shown only when the root logger is at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        if record.name.startswith("celery"):
            quiet = any(name in record.getMessage() for name in HOUSEKEEPING)
        elif record.name == "uvicorn.access":  # probes and scrapes, every few seconds
            quiet = any(f" {path}" in record.getMessage() for path in PROBE_PATHS)
        else:
            quiet = False
        if not quiet:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().getEffectiveLevel() <= logging.DEBUG


def configure(fmt: str = "text", level: str = "INFO") -> None:
    """Route every stdlib logger through one handler on stderr in the chosen format."""
    import structlog

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if fmt == "json":
        renderer: Any = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    handler.addFilter(QuietHousekeeping())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def bind_job(job_id: str, step: str, tenant: str | None, upstream_id: str | None) -> None:
    """Context for every log line of the current task (JSON format shows it)."""
    import structlog

    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        job_id=job_id, step=step, tenant=tenant, upstream_id=upstream_id
    )


def clear_job() -> None:
    import structlog

    structlog.contextvars.clear_contextvars()

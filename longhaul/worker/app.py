"""The one Celery app: JSON only, late acks, prefetch 1, one visibility
timeout everywhere, socket timeouts, events on for Flower, one queue per kind of work."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Celery
from celery.signals import worker_process_init
from kombu import Queue

from longhaul.core.config import get_settings

TASK_MODULES = (
    "longhaul.worker.tasks.jobs",
    "longhaul.worker.tasks.maintenance",
    "longhaul.worker.tasks.webhooks",
)
QUEUES = ("submit", "poll", "finalize", "maintenance", "webhooks")


def create_celery() -> Celery:
    s = get_settings()
    transport = {
        "visibility_timeout": s.visibility_timeout,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        "health_check_interval": 25,
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
    app = Celery("longhaul", broker=s.redis_url, include=list(TASK_MODULES))
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        broker_transport_options=transport,
        result_backend_transport_options={"visibility_timeout": s.visibility_timeout},
        visibility_timeout=s.visibility_timeout,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_proc_alive_timeout=30,  # pool children warm up the price tables at start
        worker_eta_task_limit=1000,
        worker_soft_shutdown_timeout=10,
        worker_enable_soft_shutdown_on_idle=True,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # Events for Flower from the steps that do work; none from the 1 s ticks (their tasks
        # say send_events=False) and no extra "sent" event per message.
        worker_send_task_events=True,
        task_send_sent_event=False,
        broker_connection_retry_on_startup=True,
        # A publish must not hang a request: a few quick retries, then the sweep takes over.
        task_publish_retry_policy={
            "max_retries": 3,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        task_time_limit=600,
        task_soft_time_limit=540,
        task_default_queue="maintenance",
        task_queues=[Queue(q) for q in QUEUES],
        task_routes={
            "longhaul.jobs.submit": {"queue": "submit"},
            "longhaul.jobs.poll": {"queue": "poll"},
            "longhaul.jobs.poll_batch": {"queue": "poll"},
            "longhaul.jobs.cancel": {"queue": "poll"},
            "longhaul.jobs.finalize": {"queue": "finalize"},
            "longhaul.webhooks.*": {"queue": "webhooks"},
            "longhaul.maintenance.*": {"queue": "maintenance"},
        },
        beat_max_loop_interval=5,
        redbeat_redis_url=s.redis_url,
        redbeat_lock_timeout=30,
        redbeat_key_prefix="longhaul:redbeat:",
        beat_schedule={
            "sweep-due-polls": {
                "task": "longhaul.maintenance.sweep",
                "schedule": timedelta(seconds=s.sweep_interval_seconds),
                "options": {"expires": 10},
            },
            "reconcile": {
                "task": "longhaul.maintenance.reconcile",
                "schedule": timedelta(seconds=s.reconcile_interval_seconds),
                "options": {"expires": 60},
            },
            "deliver-due-webhooks": {
                "task": "longhaul.webhooks.deliver_due",
                "schedule": timedelta(seconds=s.sweep_interval_seconds),
                "options": {"expires": 10},
            },
            "cleanup-expired-artifacts": {
                "task": "longhaul.maintenance.cleanup_artifacts",
                "schedule": timedelta(minutes=10),
                "options": {"expires": 300},
            },
        },
    )
    return app


app = create_celery()


@worker_process_init.connect
def _fresh_connections(**_: object) -> None:
    """psycopg pools must not cross ``fork``: every pool child opens its own."""
    from longhaul.core.db import dispose_engines

    dispose_engines()
    _warm_up()


def _warm_up() -> None:
    """Load the price tables once per process, not inside the first finalize."""
    try:
        from longhaul.core.models import utcnow
        from longhaul.core.pricing import get_price_book, price_response

        get_price_book()
        sample = {"model": "gpt-5.5", "usage": {"input_tokens": 1, "output_tokens": 1}}
        price_response(sample, request=sample, requested_at=utcnow(), completion_window=None)
    except Exception:  # a broken prices file is reported by finalize, where it matters
        logging.getLogger(__name__).exception("price book warm-up failed")

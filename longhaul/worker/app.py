"""The one Celery app: JSON only, late acks, prefetch 1, one visibility
timeout everywhere, socket timeouts, events on for Flower, one queue per kind of work."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Celery
from celery.signals import worker_process_init
from kombu import Queue

from longhaul.core import messages
from longhaul.core.config import get_settings
from longhaul.worker.dispatch import send_messages

TASK_MODULES = (
    "longhaul.worker.tasks.jobs",
    "longhaul.worker.tasks.maintenance",
    "longhaul.worker.tasks.webhooks",
)


def create_celery() -> Celery:
    s = get_settings()
    app = Celery("longhaul", broker=s.redis_url, include=list(TASK_MODULES))
    app.conf.update(
        **messages.celery_options(s),  # what the API's publisher shares
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
        # say send_events=False).
        worker_send_task_events=True,
        broker_connection_retry_on_startup=True,
        worker_consumer="longhaul.worker.consumer:Consumer",  # reconnects within ~1 s
        task_time_limit=600,
        task_soft_time_limit=540,
        task_queues=[Queue(q) for q in messages.QUEUES],
        # The leader renews RedBeat's lock every tick (at least once a second); a spare beat
        # retries it every second, so it takes over within about 5 s of the leader's death.
        beat_max_loop_interval=1,
        redbeat_redis_url=s.redis_url,
        redbeat_lock_timeout=4,
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
                "task": messages.DELIVER_DUE,
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
messages.install(send_messages)


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

"""The API's sender: a send-only Celery client (no task modules, no worker settings) built from
the options every sender shares (``core.messages``). Installed at startup; ``core.messages``
calls it after each commit that queued work. If the broker is unreachable the job is still safe
in PostgreSQL: its ``next_poll_at`` makes the sweep pick it up."""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery

from longhaul.core import messages
from longhaul.core.config import Settings


def install(settings: Settings) -> Celery:
    client = Celery("longhaul-api", broker=settings.redis_url, set_as_current=False)
    client.conf.update(**messages.celery_options(settings))

    def send(batch: Sequence[messages.Message]) -> None:
        for message in batch:
            client.send_task(message.task, args=list(message.args), headers=messages.headers())

    messages.install(send)
    return client

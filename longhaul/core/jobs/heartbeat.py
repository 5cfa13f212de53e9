"""Keep a job's lease alive while a long step runs (archiving a large file can outlast it).

A thread renews ``lease_until`` every third of the lease on its own connection. If the worker
dies, the heartbeat dies with it and the lease runs out as usual, so recovery time is unchanged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import update

from longhaul.core.db import session_factory
from longhaul.core.models import Job, utcnow

log = logging.getLogger(__name__)


def renew(job_id: str, owner: str, lease_seconds: int) -> bool:
    until = utcnow() + timedelta(seconds=lease_seconds)
    with session_factory()() as session:
        renewed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == owner)
            .values(lease_until=until, next_poll_at=until)
        ).rowcount  # type: ignore[attr-defined]
        session.commit()
    return bool(renewed)


@contextmanager
def keep_lease(job_id: str, owner: str, lease_seconds: int) -> Iterator[None]:
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(max(lease_seconds / 3, 0.5)):
            try:
                if not renew(job_id, owner, lease_seconds):
                    log.warning("job %s: lease lost while working on it", job_id)
                    return
            except Exception:  # a missed beat is retried at the next interval
                log.exception("job %s: lease renewal failed", job_id)

    thread = threading.Thread(target=beat, name=f"lease-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)

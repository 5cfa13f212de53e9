"""A process killed mid-delivery (SIGKILL while the receiver holds the request): the delivery is
not lost; once the lease runs out it is handed out again with the same ``webhook-id``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy.orm import Session

from longhaul.core.models import Tenant, utcnow
from longhaul.core.models.webhooks import WebhookDelivery
from longhaul.core.webhooks.delivery import deliver_due
from longhaul.core.webhooks.outbox import record_final_event
from tests.integration.webhooks.conftest import Receiver, drive, make_job, set_env

pytestmark = pytest.mark.usefixtures("wh_settings")

CHILD = """
import sys
from longhaul.core.db import session_scope
from longhaul.core.webhooks.delivery import deliver_one
with session_scope() as session:
    deliver_one(session, sys.argv[1])
"""


def test_killed_deliverer_loses_nothing(
    session: Session,
    tenant: Tenant,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    set_env(monkeypatch, "LONGHAUL_LEASE_SECONDS", "1")
    release = threading.Event()
    answer = receiver.answer

    def hang_first(path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        if not receiver.requests:
            release.wait(20)  # hold the first request open until its sender is dead
            receiver.plan.insert(0, 500)
        return answer(path, headers, body)

    receiver.answer = hang_first  # type: ignore[method-assign]
    job = make_job(session, tenant, webhook_url=receiver.url)
    record_final_event(session, job)
    session.commit()
    [delivery_id] = deliver_due(session, utcnow())
    session.commit()

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, delivery_id],
        env={**os.environ, "LONGHAUL_DATABASE_URL": database_url},
    )
    try:
        deadline = time.monotonic() + 20
        while not _in_flight(session, delivery_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the child is now blocked inside the POST, holding the row lock
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
        release.set()

    drive(session, lambda: len(receiver.delivered) == 1, timeout=20)

    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 2  # the one the dead process sent, and the retry
    assert len(ids) == 1 and len(receiver.delivered) == 1
    session.expire_all()
    delivery = session.get_one(WebhookDelivery, delivery_id)
    assert delivery.status == "delivered"


def _in_flight(session: Session, delivery_id: str) -> bool:
    """True once another session holds the row lock (``SKIP LOCKED`` then finds nothing)."""
    from sqlalchemy import select

    row = session.execute(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.id == delivery_id)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    session.rollback()
    return row is None

"""Work is sent only after the transaction that made it due commits, and never otherwise."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from longhaul.core import messages
from longhaul.core.db import session_factory


@pytest.fixture
def sent() -> Iterator[list[messages.Message]]:
    box: list[messages.Message] = []
    previous = messages.install(box.extend)
    yield box
    messages.install(previous)


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    s = session_factory(database_url)()
    yield s
    s.close()


def test_sent_after_commit_not_before(db: Session, sent: list[messages.Message]) -> None:
    db.execute(text("SELECT 1"))
    messages.send_after_commit(db, messages.step("submit", "job_a"))
    assert sent == [] and messages.pending(db) == [messages.step("submit", "job_a")]
    db.commit()
    assert sent == [messages.Message("longhaul.jobs.submit", ("job_a", None))]
    db.commit()  # a later commit sends nothing twice
    assert len(sent) == 1


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_dropped_when_the_transaction_does_not_commit(
    db: Session, sent: list[messages.Message], end: str
) -> None:
    db.execute(text("SELECT 1"))
    messages.send_after_commit(db, messages.deliver("whd_1"))
    getattr(db, end)()
    db.execute(text("SELECT 1"))
    db.commit()  # the session's next transaction must not carry them
    assert sent == []


def test_a_rolled_back_savepoint_keeps_the_outer_messages(
    db: Session, sent: list[messages.Message]
) -> None:
    db.execute(text("SELECT 1"))
    messages.send_after_commit(db, messages.deliver("whd_2"))
    savepoint = db.begin_nested()
    db.execute(text("SELECT 1"))
    savepoint.rollback()
    db.commit()
    assert sent == [messages.deliver("whd_2")]


def test_a_broken_broker_never_fails_the_commit(
    db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    def down(batch: Sequence[messages.Message]) -> None:
        raise ConnectionError("broker unreachable")

    previous = messages.install(down)
    try:
        db.execute(text("SELECT 1"))
        messages.send_after_commit(db, messages.step("poll", "job_b"))
        with caplog.at_level(logging.ERROR, logger="longhaul.core.messages"):
            db.commit()  # the row is the truth; the sweep resends
    finally:
        messages.install(previous)
    assert "the sweep will pick them up" in caplog.text
    assert messages.pending(db) == []


def test_routes_cover_every_step_and_queue() -> None:
    for step in ("submit", "poll", "cancel", "finalize"):
        assert messages.ROUTES[messages.step_task(step)]["queue"] in messages.QUEUES
    assert messages.ROUTES[messages.POLL_BATCH] == {"queue": "poll"}


def test_hand_overs_of_one_commit_leave_as_finalize_batches(
    db: Session, sent: list[messages.Message]
) -> None:
    db.execute(text("SELECT 1"))
    from longhaul.core.config import get_settings

    ids = [f"job_{i}" for i in range(get_settings().finalize_batch_size + 5)]
    messages.send_after_commit(db, *map(messages.finalize_handover, ids))
    messages.send_after_commit(db, messages.deliver("whd_9"), messages.step("finalize", "job_f"))
    db.commit()
    batches = [m for m in sent if m.task == messages.FINALIZE_BATCH]
    assert [m.args[0] for m in batches] == [ids[:-5], ids[-5:]]  # in order, none lost or twice
    assert all(m.args[1] is None for m in batches)
    # Everything else leaves as it was queued: a single finalize is not merged into a batch.
    assert [m for m in sent if m.task != messages.FINALIZE_BATCH] == [
        messages.deliver("whd_9"),
        messages.step("finalize", "job_f"),
    ]

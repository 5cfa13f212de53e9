"""Claims, leases and compare-and-set transitions on real PostgreSQL, safe when run twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from longhaul.core.db import session_factory
from longhaul.core.jobs.lifecycle import IllegalTransition
from longhaul.core.jobs.state import claim, transition
from longhaul.core.jobs.sweep import claim_due, reconcile
from longhaul.core.models import Job, utcnow
from tests.support.factories import add_job
from tests.support.infra import own_database


@pytest.fixture(scope="module")
def database_url(pg_server_url: str) -> Iterator[str]:
    """This module's own database: the sweep takes due jobs in bounded batches, status by
    status, and jobs other modules left due would fill them first."""
    with own_database(pg_server_url) as url:
        yield url


def make_job(session: Session, tenant: Any, status: str = "in_progress", **kw: Any) -> Job:
    # Due long ago, so these sort before any due job other tests left in the session's database.
    due = {"next_poll_at": utcnow() - timedelta(days=3650), **kw}
    return add_job(session, tenant.id, status=status, **due)


def test_two_concurrent_sweeps_never_claim_the_same_job(
    session: Session, tenant: Any, database_url: str
) -> None:
    ids = {make_job(session, tenant).id for _ in range(10)}
    first, second = session_factory(database_url)(), session_factory(database_url)()
    try:
        a = claim_due(first, lease_seconds=60, limit=6)  # holds its row locks, not committed
        b = claim_due(second, lease_seconds=60, limit=100)  # SKIP LOCKED: takes only the rest
        first.commit()
        second.commit()
        c = claim_due(first, lease_seconds=60, limit=100)  # everything is leased now
        first.commit()
    finally:
        first.close()
        second.close()
    mine_a = {job_id for _, job_id, _ in a} & ids
    mine_b = {job_id for _, job_id, _ in b} & ids
    assert mine_a.isdisjoint(mine_b)
    assert mine_a | mine_b == ids
    assert not ({job_id for _, job_id, _ in c} & ids)
    assert {step for step, job_id, _ in a + b if job_id in ids} == {"poll"}


def test_expired_lease_makes_a_job_due_again(session: Session, tenant: Any) -> None:
    job = make_job(session, tenant, status="finalizing")
    [(step, _, token)] = [
        c for c in claim_due(session, lease_seconds=60, limit=500) if c[1] == job.id
    ]
    session.commit()
    assert step == "finalize"
    # A second claim without the token fails while the lease holds; the token holder succeeds.
    assert claim(session, job.id, ["finalizing"], lease_seconds=60) is None
    assert claim(session, job.id, ["finalizing"], lease_seconds=60, token=token) is not None
    later = utcnow() + timedelta(seconds=120)
    again = [
        c for c in claim_due(session, lease_seconds=60, limit=500, now=later) if c[1] == job.id
    ]
    session.commit()
    assert len(again) == 1 and again[0][2] != token


def test_transition_is_compare_and_set_and_stamps_history(session: Session, tenant: Any) -> None:
    job = make_job(session, tenant, status="queued")
    moved = transition(session, job.id, ["queued"], "submitting", reason="test")
    assert moved is not None and moved.status == "submitting"
    assert transition(session, job.id, ["queued"], "submitting") is None  # lost the race
    session.commit()
    session.refresh(job)
    assert job.state_history[-1]["status"] == "submitting"
    assert job.state_history[-1]["reason"] == "test"
    assert len(job.state_history) == 1


def test_transition_refuses_a_move_the_lifecycle_lacks(session: Session, tenant: Any) -> None:
    job = make_job(session, tenant, status="in_progress")
    with pytest.raises(IllegalTransition):  # a finished job is only ever written by finalize
        transition(session, job.id, ["in_progress"], "completed")
    with pytest.raises(IllegalTransition):
        claim(session, job.id, ["in_progress"], lease_seconds=60, status="queued")
    session.refresh(job)
    assert job.status == "in_progress" and job.lease_owner is None and job.state_history == []


def test_reconcile_requeues_interrupted_submit_and_flags_duplicate(
    session: Session, tenant: Any
) -> None:
    stuck = make_job(
        session,
        tenant,
        status="submitting",
        lease_until=utcnow() - timedelta(seconds=5),
        lease_owner="dead",
    )
    fresh = make_job(
        session,
        tenant,
        status="submitting",
        lease_until=utcnow() + timedelta(seconds=60),
        lease_owner="alive",
    )
    orphan = make_job(session, tenant, status="in_progress")
    orphan.next_poll_at = None
    session.commit()
    assert reconcile(session, lease_seconds=60) >= 2
    session.commit()
    for j in (stuck, fresh, orphan):
        session.refresh(j)
    assert stuck.status == "queued" and stuck.possibly_duplicated is True
    assert stuck.state_history[-1]["reason"] == "submit_interrupted"
    assert fresh.status == "submitting" and fresh.possibly_duplicated is False
    assert orphan.next_poll_at is not None


def test_heartbeat_renews_only_its_own_lease(session: Session, tenant: Any) -> None:
    import time

    from longhaul.core.jobs.heartbeat import keep_lease, renew

    job = make_job(session, tenant, status="finalizing")
    claimed = claim(session, job.id, ["finalizing"], lease_seconds=2)
    assert claimed is not None
    session.commit()
    _, owner = claimed
    assert renew(job.id, "someone-else", 60) is False
    first = claimed[0].lease_until
    with keep_lease(job.id, owner, 2):
        time.sleep(2.5)
    session.refresh(job)
    assert job.lease_until is not None and first is not None and job.lease_until > first
    assert job.lease_owner == owner


def test_wake_up_during_a_poll_is_not_overwritten(session: Session, tenant: Any) -> None:
    from sqlalchemy import update

    from longhaul.core.jobs.common import next_poll_keeping_wake, release

    later = utcnow() + timedelta(seconds=30)
    for woken in (False, True):
        job = make_job(session, tenant)
        claimed = claim(session, job.id, ["in_progress"], lease_seconds=60, next_poll_at=None)
        assert claimed is not None
        session.commit()
        wake_at = utcnow()
        if woken:  # what an inbound webhook does while the poll is still running
            session.execute(update(Job).where(Job.id == job.id).values(next_poll_at=wake_at))
            session.commit()
        release(session, job.id, claimed[1], next_poll_at=next_poll_keeping_wake(later))
        session.commit()
        session.refresh(job)
        assert job.next_poll_at == (wake_at if woken else later)
        assert job.lease_owner is None

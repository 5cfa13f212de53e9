"""Per-receiver bounds and circuit breaking (core/webhooks/destinations.py), on PostgreSQL with a
loopback receiver: one dead receiver gets a bounded number of attempts at once, then one probe at
a time, and never holds deliveries to others back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from longhaul.core.config import get_settings
from longhaul.core.models import Tenant, utcnow
from longhaul.core.models.webhooks import WebhookDelivery, WebhookDestination, WebhookEvent
from longhaul.core.webhooks import destinations
from longhaul.core.webhooks.delivery import deliver_due, deliver_one
from longhaul.core.webhooks.outbox import pending_delivery_ids, record_final_event
from longhaul.core.webhooks.signing import create_secret
from tests.integration.webhooks.conftest import Receiver, make_job, set_env
from tests.support.infra import free_port

pytestmark = pytest.mark.usefixtures("wh_settings")


def _of_job(session: Session, job_id: str) -> list[str]:
    return list(
        session.execute(
            select(WebhookDelivery.id)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookEvent.job_id == job_id)
        ).scalars()
    )


def _job_deliveries(session: Session, tenant: Tenant, url: str, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        job = make_job(session, tenant, webhook_url=url)
        record_final_event(session, job)
        ids += _of_job(session, job.id)
    session.commit()
    return ids


@pytest.fixture
def cleanup(session: Session) -> list[str]:
    """Delivery ids a test made: left failed, so no later test's tick picks them up."""
    made: list[str] = []
    yield made  # type: ignore[misc]
    session.rollback()
    session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id.in_(made)).values(status="failed")
    )
    session.commit()


def test_each_receiver_gets_at_most_its_bound_and_others_are_not_held_back(
    session: Session, tenant: Tenant, monkeypatch: pytest.MonkeyPatch, cleanup: list[str]
) -> None:
    set_env(monkeypatch, "LONGHAUL_WEBHOOK_DESTINATION_CONCURRENCY", "2")
    slow = _job_deliveries(session, tenant, f"http://127.0.0.1:{free_port()}/a", 5)
    other = _job_deliveries(session, tenant, f"http://127.0.0.1:{free_port()}/b", 1)
    cleanup += slow + other

    first = deliver_due(session, utcnow())
    session.commit()
    assert len(set(first) & set(slow)) == 2  # the bound, the oldest first
    assert set(first) & set(slow) == set(slow[:2])
    assert set(other) <= set(first)  # behind five to another receiver, yet not held back
    again = deliver_due(session, utcnow())
    session.commit()
    assert not set(again) & set(slow + other)  # both of 'a's slots are out (leased)


def test_finalize_leases_what_it_sends_so_the_tick_sends_no_second_task(
    session: Session, tenant: Tenant, monkeypatch: pytest.MonkeyPatch, cleanup: list[str]
) -> None:
    set_env(monkeypatch, "LONGHAUL_WEBHOOK_DESTINATION_CONCURRENCY", "1")
    url = f"http://127.0.0.1:{free_port()}/hook"
    job = make_job(session, tenant, webhook_url=url)
    record_final_event(session, job)
    sent_now = pending_delivery_ids(session, job.id)  # what finalize sends after its commit
    session.commit()
    assert len(sent_now) == 1
    cleanup += sent_now
    assert not set(deliver_due(session, utcnow())) & set(sent_now)
    session.commit()

    later = make_job(session, tenant, webhook_url=url)  # the receiver's one slot is taken
    record_final_event(session, later)
    assert pending_delivery_ids(session, later.id) == []
    session.commit()
    cleanup += _of_job(session, later.id)


def test_failures_open_the_circuit_then_one_probe_closes_it(
    session: Session,
    tenant: Tenant,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    cleanup: list[str],
) -> None:
    set_env(monkeypatch, "LONGHAUL_WEBHOOK_CIRCUIT_FAILURES", "2")
    set_env(monkeypatch, "LONGHAUL_WEBHOOK_CIRCUIT_SECONDS", "30")
    receiver.secrets = [create_secret(session, tenant.id)]
    receiver.plan = [503, 500]
    ids = _job_deliveries(session, tenant, receiver.url, 3)
    cleanup += ids
    origin = receiver.url.rsplit("/", 1)[0]

    assert deliver_one(session, ids[0]) == "pending"  # 503: one failure
    session.commit()
    assert deliver_one(session, ids[1]) == "pending"  # 500: the second opens the circuit
    session.commit()
    state = session.get(WebhookDestination, origin)
    assert state is not None and state.failures == 2
    assert state.open_until is not None and state.open_until > utcnow() + timedelta(seconds=25)

    # Open: nothing goes there, though all three are due (the first two after their retry).
    session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(next_attempt_at=utcnow())
    )
    session.commit()
    assert not set(deliver_due(session, utcnow())) & set(ids)
    session.commit()

    # Half-open once the period ends: one probe at a time.
    session.execute(
        update(WebhookDestination)
        .where(WebhookDestination.origin == origin)
        .values(open_until=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    probe = set(deliver_due(session, utcnow())) & set(ids)
    session.commit()
    assert len(probe) == 1
    assert deliver_one(session, probe.pop()) == "delivered"
    session.commit()
    session.expire_all()
    state = session.get(WebhookDestination, origin)
    assert state is not None and (state.failures, state.open_until) == (0, None)
    # Closed: the probe's answer handed its slot to the next one, the tick takes the last.
    rest = set(deliver_due(session, utcnow())) & set(ids)
    session.commit()
    assert len(rest) == 1
    leased = session.execute(
        select(WebhookDelivery.id).where(
            WebhookDelivery.id.in_(ids), WebhookDelivery.lease_until.is_not(None)
        )
    ).scalars()
    assert len(set(leased)) == 2
    assert len(receiver.requests) == 3


def test_what_counts_against_a_receiver() -> None:
    import httpx2

    from longhaul.core import failures

    request = httpx2.Request("POST", "http://127.0.0.1:9/x")
    assert destinations.costly(failures.classify(httpx2.ReadTimeout("slow", request=request)))
    assert destinations.costly(failures.classify(httpx2.ConnectError("refused", request=request)))
    assert destinations.costly(failures.from_status(503, {}))
    assert destinations.costly(failures.from_status(429, {}))
    assert not destinations.costly(failures.from_status(400, {}))  # alive, just unhappy
    assert not destinations.costly(None)
    assert not destinations.costly(failures.refused(ValueError("SSRF")))  # nothing was sent


def test_the_event_brings_the_tenants_first_secret(session: Session, cleanup: list[str]) -> None:
    """Created with the event, committed with it: the first attempt (which holds its transaction
    while it waits on the receiver) must not be the one inserting it, or every other attempt for
    the tenant waits on that uncommitted row."""
    import uuid

    from longhaul.core.webhooks.signing import active_secrets

    tenant = Tenant(id=f"ten_{uuid.uuid4().hex[:12]}", name=f"fresh-{uuid.uuid4().hex[:8]}")
    session.add(tenant)
    session.flush()
    assert active_secrets(session, tenant.id, utcnow()) == []
    cleanup += _job_deliveries(session, tenant, f"http://127.0.0.1:{free_port()}/hook", 1)
    assert len(active_secrets(session, tenant.id, utcnow())) == 1


def test_an_answered_attempt_hands_its_slot_to_the_next_delivery_at_once(
    session: Session,
    tenant: Tenant,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    cleanup: list[str],
) -> None:
    from longhaul.core import messages

    set_env(monkeypatch, "LONGHAUL_WEBHOOK_DESTINATION_CONCURRENCY", "1")
    receiver.secrets = [create_secret(session, tenant.id)]
    ids = _job_deliveries(session, tenant, receiver.url, 3)
    cleanup += ids
    sent: list[messages.Message] = []
    previous = messages.install(sent.extend)
    try:
        [first] = set(deliver_due(session, utcnow())) & set(ids)
        session.commit()
        sent.clear()
        assert deliver_one(session, first) == "delivered"
        session.commit()
        # The next one to the same receiver left with the attempt's commit, not at a tick.
        assert [m.args[0] for m in sent] == [ids[1]]
    finally:
        messages.install(previous)


def test_an_expired_lease_is_claimed_again_only_once_its_message_left_the_queue(
    session: Session, tenant: Tenant, cleanup: list[str]
) -> None:
    [delivery] = _job_deliveries(session, tenant, f"http://127.0.0.1:{free_port()}/x", 1)
    cleanup.append(delivery)
    sent_at = utcnow()
    assert delivery in deliver_due(session, sent_at)
    session.commit()
    lease = get_settings().lease_seconds
    later = sent_at + timedelta(seconds=lease + 1)  # the lease ran out, no attempt started
    # The oldest message still waiting was sent before ours: ours may be waiting behind it.
    assert delivery not in deliver_due(session, later, horizon=sent_at - timedelta(seconds=1))
    session.commit()
    # Every message sent before ours has left: ours was lost (or its task died). Again.
    assert delivery in deliver_due(session, later, horizon=sent_at + timedelta(seconds=1))
    session.commit()

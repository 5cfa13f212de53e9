"""Outbound delivery over real HTTP to a loopback receiver that verifies signatures."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from longhaul.core.models import Tenant, utcnow
from longhaul.core.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSecret,
)
from longhaul.core.webhooks.delivery import deliver_due, deliver_one, redeliver
from longhaul.core.webhooks.endpoints import create_endpoint
from longhaul.core.webhooks.outbox import record_final_event
from longhaul.core.webhooks.signing import create_secret
from longhaul.core.webhooks.views import job_deliveries
from tests.integration.webhooks.conftest import SCHEDULE, Receiver, drive, make_job, set_env
from tests.support.infra import free_port

pytestmark = pytest.mark.usefixtures("wh_settings")


def _deliveries(session: Session, job_id: str) -> list[WebhookDelivery]:
    session.expire_all()
    return list(
        session.execute(
            select(WebhookDelivery)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookEvent.job_id == job_id)
        ).scalars()
    )


def _finished(session: Session, job_id: str) -> bool:
    rows = _deliveries(session, job_id)
    return bool(rows) and all(d.status != "pending" for d in rows)


def test_signed_event_is_delivered_once_and_recorded(
    session: Session, tenant: Tenant, receiver: Receiver
) -> None:
    receiver.secrets = [create_secret(session, tenant.id)]
    job = make_job(session, tenant, webhook_url=receiver.url)
    record_final_event(session, job)
    session.commit()

    drive(session, lambda: _finished(session, job.id))

    [request] = receiver.requests
    assert request.verified_with == [0]
    envelope = json.loads(request.body)
    assert envelope["type"] == "response.completed" and envelope["timestamp"]
    data = envelope["data"]
    assert (data["id"], data["status"], data["model"]) == (job.id, "completed", "gpt-test")
    assert data["upstream_response_id"] == job.upstream_response_id
    assert data["output_text"] == "Hello there." and data["usage"]["total_tokens"] == 7
    assert data["metadata"] == {"order": "42"}
    event = session.execute(select(WebhookEvent).where(WebhookEvent.job_id == job.id)).scalar_one()
    assert request.headers["webhook-id"] == event.id and request.body == event.payload
    [view] = job_deliveries(session, job.id)
    assert view["status"] == "delivered" and view["delivered_at"]
    [attempt] = view["attempts"]
    assert attempt["status_code"] == 204 and attempt["latency_ms"] >= 0 and attempt["error"] is None


def test_outbox_is_idempotent_per_job_and_type(session: Session, tenant: Tenant) -> None:
    job = make_job(session, tenant, status="failed", webhook_url="http://127.0.0.1:9/x")
    record_final_event(session, job)
    record_final_event(session, job)
    session.commit()
    events = session.execute(select(WebhookEvent).where(WebhookEvent.job_id == job.id)).scalars()
    [event] = list(events)
    assert event.type == "response.failed"
    assert json.loads(event.payload)["data"]["error"]["code"] == "server_error"
    assert len(_deliveries(session, job.id)) == 1
    for d in _deliveries(session, job.id):  # leave nothing pending for other tests
        d.status = "failed"
    session.commit()


def test_failing_receiver_recovers_one_delivery_same_webhook_id(
    session: Session, tenant: Tenant, receiver: Receiver
) -> None:
    receiver.secrets = [create_secret(session, tenant.id)]
    receiver.plan = [500, 503, 502]
    job = make_job(session, tenant, webhook_url=receiver.url)
    record_final_event(session, job)
    session.commit()

    drive(session, lambda: _finished(session, job.id))

    assert [r.status for r in receiver.requests] == [500, 503, 502, 204]
    assert len(receiver.delivered) == 1
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    assert all(r.verified_with == [0] for r in receiver.requests)
    [delivery] = _deliveries(session, job.id)
    assert (delivery.status, delivery.attempts) == ("delivered", 4)
    codes = session.execute(
        select(WebhookAttempt.status_code)
        .where(WebhookAttempt.delivery_id == delivery.id)
        .order_by(WebhookAttempt.number)
    ).scalars()
    assert list(codes) == [500, 503, 502, 204]


def test_receiver_down_forever_fails_at_the_end_of_the_schedule(
    session: Session, tenant: Tenant
) -> None:
    job = make_job(session, tenant, webhook_url=f"http://127.0.0.1:{free_port()}/hook")
    record_final_event(session, job)
    session.commit()

    drive(session, lambda: _finished(session, job.id))

    [delivery] = _deliveries(session, job.id)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "failed",
        len(SCHEDULE),
        None,
    )
    attempts = list(
        session.execute(
            select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
        ).scalars()
    )
    assert len(attempts) == len(SCHEDULE)
    assert all(a.status_code is None and "Connect" in (a.error or "") for a in attempts)


def test_redirects_are_not_followed_and_count_as_failures(
    session: Session, tenant: Tenant, receiver: Receiver
) -> None:
    receiver.then = 302
    receiver.redirect_to = receiver.url.replace("/hook", "/elsewhere")
    job = make_job(session, tenant, webhook_url=receiver.url)
    record_final_event(session, job)
    session.commit()

    drive(session, lambda: _finished(session, job.id))

    assert [r.path for r in receiver.requests] == ["/hook"] * len(SCHEDULE)
    [delivery] = _deliveries(session, job.id)
    assert (delivery.status, delivery.last_status_code) == ("failed", 302)


def test_410_disables_the_endpoint(session: Session, tenant: Tenant, receiver: Receiver) -> None:
    receiver.then = 410
    endpoint = create_endpoint(session, tenant.id, url=receiver.url)
    job = make_job(session, tenant)
    record_final_event(session, job)
    session.commit()

    drive(session, lambda: _finished(session, job.id))

    assert len(receiver.requests) == 1
    [delivery] = _deliveries(session, job.id)
    assert delivery.status == "disabled" and delivery.endpoint_id == endpoint.id
    session.refresh(endpoint)
    assert endpoint.disabled_at is not None
    later = make_job(session, tenant)
    record_final_event(session, later)
    session.commit()
    assert _deliveries(session, later.id) == []


def test_endpoints_receive_only_subscribed_types(
    session: Session, tenant: Tenant, receiver: Receiver
) -> None:
    create_endpoint(session, tenant.id, url=receiver.url, event_types=["response.failed"])
    other = create_endpoint(session, tenant.id, url=receiver.url + "?all=1")
    completed = make_job(session, tenant, webhook_url=receiver.url + "?job=1")
    failed = make_job(session, tenant, status="failed")
    record_final_event(session, completed)
    record_final_event(session, failed)
    session.commit()

    drive(session, lambda: _finished(session, completed.id) and _finished(session, failed.id))

    assert sorted(d.url for d in _deliveries(session, completed.id)) == sorted(
        [receiver.url + "?job=1", other.url]
    )
    assert sorted(d.url for d in _deliveries(session, failed.id)) == sorted(
        [receiver.url, other.url]
    )
    assert len(receiver.delivered) == 4


def test_rotation_sends_both_signatures_during_grace_then_only_the_new(
    session: Session, tenant: Tenant, receiver: Receiver
) -> None:
    from longhaul.core.webhooks.signing import rotate_secret

    old = create_secret(session, tenant.id)
    new = rotate_secret(session, tenant.id, grace_seconds=60)
    receiver.secrets = [old, new]
    job = make_job(session, tenant, webhook_url=receiver.url)
    record_final_event(session, job)
    session.commit()
    drive(session, lambda: len(receiver.delivered) == 1)
    first = receiver.requests[-1]
    assert first.verified_with == [0, 1]
    assert len(first.headers["webhook-signature"].split(" ")) == 2

    # The grace period runs out: only the new secret signs from then on.
    session.execute(
        update(WebhookSecret)
        .where(WebhookSecret.secret == old)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    again = redeliver(session, job)  # leased for the message it sends at once
    session.commit()
    drive(session, lambda: len(receiver.delivered) == 2, deliveries=again)
    second = receiver.requests[-1]
    assert second.verified_with == [1]
    assert len(second.headers["webhook-signature"].split(" ")) == 1
    assert second.headers["webhook-id"] == first.headers["webhook-id"]

    # A rotation without grace drops the previous secret at once.
    newest = rotate_secret(session, tenant.id, grace_seconds=0)
    receiver.secrets = [old, new, newest]
    again = redeliver(session, job)
    session.commit()
    drive(session, lambda: len(receiver.delivered) == 3, deliveries=again)
    assert receiver.requests[-1].verified_with == [2]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "10.0.0.1",
        "169.254.169.254",
        "[::ffff:127.0.0.1]:{port}",
        "[64:ff9b::a9fe:a9fe]",
        "[2002:7f00:1::]",
        "localhost:{port}",
    ],
)
def test_ssrf_destinations_are_refused_without_sending(
    session: Session,
    tenant: Tenant,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
) -> None:
    set_env(monkeypatch, "LONGHAUL_WEBHOOK_ALLOW_HOSTS", [])
    port = receiver.url.split(":")[2].split("/")[0]
    job = make_job(session, tenant, webhook_url=f"http://{host.format(port=port)}/hook")
    record_final_event(session, job)
    session.commit()

    drive(session, lambda: _finished(session, job.id))

    assert receiver.requests == []
    [delivery] = _deliveries(session, job.id)
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "Refusing to deliver" in (delivery.last_error or "")


def test_redeliver_requires_a_final_event(session: Session, tenant: Tenant) -> None:
    from longhaul.core.errors import Conflict

    job = make_job(session, tenant, status="in_progress")
    session.commit()
    with pytest.raises(Conflict):
        redeliver(session, job)


def test_deleted_endpoint_keeps_delivery_history(
    session: Session, tenant: Tenant, receiver: Receiver
) -> None:
    from longhaul.core.webhooks.endpoints import delete_endpoint

    endpoint = create_endpoint(session, tenant.id, url=receiver.url)
    job = make_job(session, tenant)
    record_final_event(session, job)
    session.commit()
    drive(session, lambda: _finished(session, job.id))
    delete_endpoint(session, tenant.id, endpoint.id)
    session.commit()
    assert (
        session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint.id)
        )
        == 0
    )
    [delivery] = _deliveries(session, job.id)
    assert delivery.status == "delivered" and delivery.endpoint_id is None


def test_repeated_rotations_keep_at_most_the_current_and_one_previous_secret(
    session: Session, tenant: Tenant
) -> None:
    from longhaul.core.webhooks.signing import active_secrets, rotate_secret

    secrets = [create_secret(session, tenant.id)]
    for _ in range(5):
        secrets.append(rotate_secret(session, tenant.id, grace_seconds=3600))
    session.commit()
    assert active_secrets(session, tenant.id, utcnow()) == [secrets[-1], secrets[-2]]


def test_a_second_message_for_the_same_slot_never_makes_an_early_attempt(
    session: Session, tenant: Tenant, receiver: Receiver
) -> None:
    """Finalize sends ``deliver`` at once while the beat tick hands out the same fresh row: the
    second task must not make attempt 2 before its time (here a 429 asking for 60 s)."""
    receiver.secrets = [create_secret(session, tenant.id)]
    receiver.plan, receiver.retry_after = [429], "60"
    job = make_job(session, tenant, webhook_url=receiver.url)
    record_final_event(session, job)
    session.commit()
    [delivery] = _deliveries(session, job.id)
    assert delivery.id in deliver_due(session, utcnow())  # the tick's claim
    session.commit()
    assert deliver_one(session, delivery.id) == "pending"  # finalize's immediate message
    session.commit()
    assert deliver_one(session, delivery.id) is None  # the tick's message, right after
    session.commit()
    assert [r.status for r in receiver.requests] == [429]
    [after] = _deliveries(session, job.id)
    assert after.attempts == 1 and after.next_attempt_at is not None
    assert after.next_attempt_at - utcnow() > timedelta(seconds=55)
    after.status = "failed"  # leave nothing pending for other tests
    session.commit()

"""Retry policy: outcomes by status code, the schedule, Retry-After, exhaustion."""

from __future__ import annotations

import email.utils
import random
from datetime import UTC, datetime, timedelta

import httpx2
import pytest

from longhaul.core import failures
from longhaul.core.config import DEFAULT_WEBHOOK_SCHEDULE
from longhaul.core.failures import Failure
from longhaul.core.webhooks.policy import decide
from longhaul.core.webhooks.ssrf import BlockedDestination

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SERVER_ERROR = failures.from_status(500)


def answered(code: int, retry_after: str | None = None) -> Failure | None:
    """What the sender reports for an answer: no failure for a 2xx."""
    if 200 <= code < 300:
        return None
    return failures.from_status(code, {"retry-after": retry_after} if retry_after else None)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (299, "delivered"),
        (410, "disabled"),
        (301, "pending"),
        (302, "pending"),
        (307, "pending"),
        (400, "pending"),
        (404, "pending"),
        (500, "pending"),
        (None, "pending"),
    ],
)
def test_outcome_by_answer(code: int | None, kind: str) -> None:
    """2xx delivers, 410 disables, every other answer (or none: a transport error) is retried."""
    failure = (
        answered(code) if code is not None else failures.classify(httpx2.ConnectError("refused"))
    )
    d = decide(failure=failure, attempts_made=1, schedule=(0, 5), now=NOW)
    assert d.status == kind


def test_follows_the_default_schedule_then_fails() -> None:
    rng = random.Random(1)
    delays = []
    for attempt in range(1, len(DEFAULT_WEBHOOK_SCHEDULE)):
        d = decide(
            failure=SERVER_ERROR,
            attempts_made=attempt,
            schedule=DEFAULT_WEBHOOK_SCHEDULE,
            now=NOW,
            rng=rng,
        )
        assert d.status == "pending" and d.next_attempt_at is not None
        delays.append((d.next_attempt_at - NOW).total_seconds())
    for got, want in zip(delays, DEFAULT_WEBHOOK_SCHEDULE[1:], strict=True):
        assert want <= got <= want * 1.1  # jitter only adds: never before the scheduled time
    last = decide(
        failure=SERVER_ERROR,
        attempts_made=len(DEFAULT_WEBHOOK_SCHEDULE),
        schedule=DEFAULT_WEBHOOK_SCHEDULE,
        now=NOW,
    )
    assert last.status == "failed" and last.next_attempt_at is None


def test_terminal_outcomes_and_permanent_refusal() -> None:
    schedule = (0, 5, 300)
    assert decide(failure=None, attempts_made=1, schedule=schedule, now=NOW).status == "delivered"
    gone = decide(failure=answered(410), attempts_made=1, schedule=schedule, now=NOW)
    assert gone.status == "disabled"
    ssrf = failures.classify(BlockedDestination("Refusing to deliver to x: loopback"))
    refused = decide(failure=ssrf, attempts_made=1, schedule=schedule, now=NOW)
    assert refused.status == "failed"


def test_retry_after_only_delays_throttled_answers_and_is_capped() -> None:
    schedule = (0, 5, 300)
    rng = random.Random(0)
    throttled = decide(
        failure=answered(429, "120"), attempts_made=1, schedule=schedule, now=NOW, rng=rng
    )
    assert throttled.next_attempt_at is not None
    assert timedelta(seconds=120) <= throttled.next_attempt_at - NOW <= timedelta(seconds=132)
    capped = decide(
        failure=answered(503, str(10**6)), attempts_made=1, schedule=schedule, now=NOW, rng=rng
    )
    assert capped.next_attempt_at is not None
    assert timedelta(hours=1) <= capped.next_attempt_at - NOW <= timedelta(hours=1.1)
    ignored = decide(
        failure=answered(500, "120"), attempts_made=1, schedule=schedule, now=NOW, rng=rng
    )
    assert ignored.next_attempt_at is not None
    assert timedelta(seconds=5) <= ignored.next_attempt_at - NOW <= timedelta(seconds=5.5)


def test_retry_after_beyond_a_short_schedule_is_honoured() -> None:
    """Schedule [0, 20, 20] and a 429 asking for 60 s: the next attempt waits the 60 s."""
    for seed in range(20):
        d = decide(
            failure=answered(429, "60"),
            attempts_made=1,
            schedule=(0, 20, 20),
            now=NOW,
            rng=random.Random(seed),
        )
        assert d.next_attempt_at is not None and d.next_attempt_at - NOW >= timedelta(seconds=60)


def test_retry_after_as_an_http_date_is_honoured() -> None:
    """The shared parser (its table: tests/unit/test_failures.py) reads a receiver's HTTP date."""
    now = datetime.now(UTC)
    when = email.utils.format_datetime(now + timedelta(seconds=90), usegmt=True)
    d = decide(
        failure=failures.from_status(503, {"Retry-After": when}),
        attempts_made=1,
        schedule=(0, 5, 300),
        now=now,
    )
    assert d.next_attempt_at is not None and d.next_attempt_at - now >= timedelta(seconds=88)

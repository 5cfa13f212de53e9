"""Retry policy: outcomes by status code, the schedule, Retry-After, exhaustion."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from longhaul.core.config import DEFAULT_WEBHOOK_SCHEDULE
from longhaul.core.webhooks.policy import classify, decide, parse_retry_after

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (299, "delivered"),
        (410, "disabled"),
        (301, "failure"),
        (302, "failure"),
        (307, "failure"),
        (400, "failure"),
        (500, "failure"),
        (None, "failure"),
    ],
)
def test_classify(code: int | None, kind: str) -> None:
    assert classify(code) == kind


def test_follows_the_default_schedule_then_fails() -> None:
    rng = random.Random(1)
    delays = []
    for attempt in range(1, len(DEFAULT_WEBHOOK_SCHEDULE)):
        d = decide(
            status_code=500,
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
        status_code=500,
        attempts_made=len(DEFAULT_WEBHOOK_SCHEDULE),
        schedule=DEFAULT_WEBHOOK_SCHEDULE,
        now=NOW,
    )
    assert last.status == "failed" and last.next_attempt_at is None


def test_terminal_outcomes_and_permanent_refusal() -> None:
    schedule = (0, 5, 300)
    assert (
        decide(status_code=204, attempts_made=1, schedule=schedule, now=NOW).status == "delivered"
    )
    assert decide(status_code=410, attempts_made=1, schedule=schedule, now=NOW).status == "disabled"
    refused = decide(status_code=None, attempts_made=1, schedule=schedule, now=NOW, permanent=True)
    assert refused.status == "failed"


def test_retry_after_only_delays_throttled_answers_and_is_capped() -> None:
    schedule = (0, 5, 300)
    rng = random.Random(0)
    throttled = decide(
        status_code=429, attempts_made=1, schedule=schedule, now=NOW, retry_after=120, rng=rng
    )
    assert throttled.next_attempt_at is not None
    assert timedelta(seconds=120) <= throttled.next_attempt_at - NOW <= timedelta(seconds=132)
    capped = decide(
        status_code=503, attempts_made=1, schedule=schedule, now=NOW, retry_after=10**6, rng=rng
    )
    assert capped.next_attempt_at is not None
    assert timedelta(hours=1) <= capped.next_attempt_at - NOW <= timedelta(hours=1.1)
    ignored = decide(
        status_code=500, attempts_made=1, schedule=schedule, now=NOW, retry_after=120, rng=rng
    )
    assert ignored.next_attempt_at is not None
    assert timedelta(seconds=5) <= ignored.next_attempt_at - NOW <= timedelta(seconds=5.5)


def test_retry_after_beyond_a_short_schedule_is_honoured() -> None:
    """Schedule [0, 20, 20] and a 429 asking for 60 s: the next attempt waits the 60 s."""
    for seed in range(20):
        d = decide(
            status_code=429,
            attempts_made=1,
            schedule=(0, 20, 20),
            now=NOW,
            retry_after=60,
            rng=random.Random(seed),
        )
        assert d.next_attempt_at is not None and d.next_attempt_at - NOW >= timedelta(seconds=60)


def test_parse_retry_after_http_date() -> None:
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:30 GMT", now=NOW) == 90.0
    assert parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now=NOW) == 0.0


@pytest.mark.parametrize(
    ("raw", "want"), [("30", 30.0), (" 1.5 ", 1.5), ("-1", None), ("soon", None), (None, None)]
)
def test_parse_retry_after(raw: str | None, want: float | None) -> None:
    assert parse_retry_after(raw) == want

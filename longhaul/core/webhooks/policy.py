"""Delivery outcome and retry schedule: pure functions, no I/O.

``schedule[i]`` is the delay before attempt ``i + 1`` (the first is normally 0: immediately); after
the last entry's attempt fails the delivery is ``failed``. 2xx = delivered; 410 = the receiver asked
to be disabled; everything else (3xx included: redirects are never followed) is a failure.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Status = Literal["pending", "delivered", "failed", "disabled"]
THROTTLE_CODES = frozenset({429, 502, 503, 504})
JITTER = 0.1  # added, never taken away: no attempt runs before its scheduled time
RETRY_AFTER_FLOOR_CAP = 3600.0  # a Retry-After is honoured up to max(schedule, one hour)


@dataclass(frozen=True)
class Decision:
    status: Status
    next_attempt_at: datetime | None = None


def first_attempt_at(schedule: Sequence[float], now: datetime) -> datetime:
    return now + timedelta(seconds=schedule[0] if schedule else 0)


def classify(status_code: int | None) -> Literal["delivered", "disabled", "failure"]:
    if status_code is not None and 200 <= status_code < 300:
        return "delivered"
    if status_code == 410:
        return "disabled"
    return "failure"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
    return seconds if seconds >= 0 else None


def decide(
    *,
    status_code: int | None,
    attempts_made: int,
    schedule: Sequence[float],
    now: datetime,
    retry_after: float | None = None,
    permanent: bool = False,
    rng: random.Random | None = None,
) -> Decision:
    """What happens after attempt number ``attempts_made`` (1-based, within this schedule run).

    A ``Retry-After`` on a throttling answer can only push the next attempt later, never earlier,
    and is capped by the longest step of the schedule or one hour, whichever is longer. Jitter
    only adds time. ``permanent`` (e.g. an SSRF refusal) fails at once.
    """
    outcome = classify(status_code)
    if outcome == "delivered":
        return Decision("delivered")
    if outcome == "disabled":
        return Decision("disabled")
    if permanent or attempts_made >= len(schedule):
        return Decision("failed")
    delay = float(schedule[attempts_made])
    if retry_after is not None and status_code in THROTTLE_CODES:
        delay = max(delay, min(retry_after, max(*schedule, RETRY_AFTER_FLOOR_CAP)))
    delay *= 1 + (rng or random).uniform(0, JITTER)
    return Decision("pending", now + timedelta(seconds=max(delay, 0.0)))

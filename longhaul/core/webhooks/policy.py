"""Delivery outcome and retry schedule: pure functions, no I/O.

``schedule[i]`` is the delay before attempt ``i + 1`` (the first is normally 0: immediately); after
the last entry's attempt fails the delivery is ``failed``. What an attempt's failure means comes
from the shared vocabulary (``core/failures``): no failure (2xx) = delivered; 410 = the receiver
asked to be disabled; a refusal before sending (SSRF) fails at once; every other answer (3xx
included: redirects are never followed, and 4xx: receivers get fixed) and every transport error is
retried on the schedule.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from longhaul.core.failures import Failure

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


def decide(
    *,
    failure: Failure | None,
    attempts_made: int,
    schedule: Sequence[float],
    now: datetime,
    rng: random.Random | None = None,
) -> Decision:
    """What happens after attempt number ``attempts_made`` (1-based, within this schedule run)
    ended with ``failure`` (None: a 2xx answer).

    A ``Retry-After`` on a throttling answer can only push the next attempt later, never earlier,
    and is capped by the longest step of the schedule or one hour, whichever is longer. Jitter
    only adds time.
    """
    if failure is None:
        return Decision("delivered")
    if failure.status == 410:
        return Decision("disabled")
    refused = failure.kind == "permanent" and failure.status is None
    if refused or attempts_made >= len(schedule):
        return Decision("failed")
    delay = float(schedule[attempts_made])
    if failure.retry_after is not None and failure.status in THROTTLE_CODES:
        delay = max(delay, min(failure.retry_after, max(*schedule, RETRY_AFTER_FLOOR_CAP)))
    delay *= 1 + (rng or random).uniform(0, JITTER)
    return Decision("pending", now + timedelta(seconds=max(delay, 0.0)))

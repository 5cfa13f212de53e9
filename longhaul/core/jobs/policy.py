"""Pure scheduling policy: poll intervals and retry backoff. Unit-tested without Celery."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class PollPolicy:
    initial: float = 1.0
    factor: float = 1.5
    cap: float = 30.0
    floor: float = 0.2
    first: float | None = None  # the first poll's delay, if not ``initial``

    def next_delay(self, poll_count: int, poll_after_ms: str | None = None) -> float:
        """Short at first, growing by ``factor``, capped; the upstream's ``openai-poll-after-ms``
        hint wins when present (still clamped to [floor, cap])."""
        hinted = _parse_ms(poll_after_ms)
        if hinted is not None:
            return min(max(hinted, self.floor), self.cap)
        if poll_count <= 0 and self.first is not None:
            return self.first
        return min(self.initial * self.factor ** max(poll_count, 0), self.cap)


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 2.0
    cap: float = 300.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with jitter (0.75 to 1.0); ``Retry-After`` is honoured when given."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.cap)
        raw = min(self.base * 2 ** max(attempt - 1, 0), self.cap)
        return raw * random.uniform(0.75, 1.0)


def _parse_ms(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value) / 1000.0
    except ValueError:
        return None

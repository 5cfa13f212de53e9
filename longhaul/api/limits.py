"""Request limits, counted in Redis so every API process shares them (the ``limits`` library,
fixed windows: one round trip per check). Each is a setting; 0 turns it off.

- ``LONGHAUL_RATE_LIMIT_PER_SECOND``: requests per second per API key.
- ``LONGHAUL_AUTH_FAILURES_PER_MINUTE``: failed authentications per client address; past it,
  keys that are not already known to this process are refused with 429 before any lookup.
- ``LONGHAUL_REDELIVER_PER_HOUR``: redeliveries per job (each one POSTs to every target).

A refusal is OpenAI's 429: ``{"error": {"type": "requests", "code": "rate_limit_exceeded"}}``
with ``Retry-After`` and ``x-ratelimit-*`` headers. When Redis cannot be reached the limits are
skipped (fail open) for a few seconds, with one log line: limits never take the API down.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits import RateLimitItemPerSecond as PerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter

from longhaul.core.config import Settings
from longhaul.core.errors import LonghaulError

log = logging.getLogger(__name__)
SKIP_SECONDS = 5.0  # after a Redis failure, limits are skipped this long


class RateLimited(LonghaulError):
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int, limit: int, window: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {
            f"x-ratelimit-limit-{window}": str(limit),
            f"x-ratelimit-remaining-{window}": "0",
            f"x-ratelimit-reset-{window}": f"{retry_after}s",
        }


@dataclass(frozen=True)
class Rule:
    item: RateLimitItem | None  # None: off
    what: str
    window: str = "requests"  # the x-ratelimit-* header family


class Limits:
    def __init__(self, settings: Settings) -> None:
        self.per_key = Rule(_item(PerSecond, settings.rate_limit_per_second), "requests per key")
        self.auth_failures = Rule(
            _item(RateLimitItemPerMinute, settings.auth_failures_per_minute),
            "failed authentications from this address",
        )
        self.redeliver = Rule(
            _item(RateLimitItemPerHour, settings.redeliver_per_hour), "redeliveries of this job"
        )
        self._url = settings.redis_url
        self._limiter: FixedWindowRateLimiter | None = None
        self._skip_until = 0.0

    def _strategy(self) -> FixedWindowRateLimiter:
        if self._limiter is None:  # made on the event loop that uses it
            storage = RedisStorage(
                "async+" + self._url,
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix="longhaul:limits",
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
            self._limiter = FixedWindowRateLimiter(storage)
        return self._limiter

    async def hit(self, rule: Rule, *identity: str) -> None:
        """Count one; ``RateLimited`` when the window's count is over the limit."""
        if rule.item is None or time.monotonic() < self._skip_until:
            return
        try:
            allowed = await self._strategy().hit(rule.item, *identity)
            if allowed:
                return
            stats = await self._strategy().get_window_stats(rule.item, *identity)
        except Exception as exc:
            self._skip(exc)
            return
        self._refuse(rule, stats.reset_time)

    async def check(self, rule: Rule, *identity: str) -> None:
        """``RateLimited`` if the window is already used up (counts nothing)."""
        if rule.item is None or time.monotonic() < self._skip_until:
            return
        try:
            stats = await self._strategy().get_window_stats(rule.item, *identity)
        except Exception as exc:
            self._skip(exc)
            return
        if stats.remaining <= 0:
            self._refuse(rule, stats.reset_time)

    def _refuse(self, rule: Rule, reset_time: float) -> None:
        assert rule.item is not None
        retry = max(1, math.ceil(reset_time - time.time()))
        raise RateLimited(
            f"Rate limit reached: {rule.item.amount} {rule.what} per "
            f"{rule.item.GRANULARITY.name}. Retry after {retry} s.",
            retry_after=retry,
            limit=rule.item.amount,
            window=rule.window,
        )

    def _skip(self, exc: Exception) -> None:
        if time.monotonic() >= self._skip_until:
            log.warning("rate limits skipped for %.0f s: Redis unavailable (%s)", SKIP_SECONDS, exc)
        self._skip_until = time.monotonic() + SKIP_SECONDS


def _item(kind: type[RateLimitItem], amount: int) -> RateLimitItem | None:
    return kind(amount) if amount > 0 else None

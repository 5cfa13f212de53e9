"""One failure vocabulary: what an exception from a call outside the process means.

Every step that talks to something else (the upstream through the SDK, artifact downloads,
webhook receivers, artifact storage) asks :func:`classify` three questions: retry later, give up,
or is the thing gone (``kind``); how long the other side asked us to wait (``retry_after``); and
whether the request may have taken effect although no answer said so (``maybe_sent``). Callers
keep their own schedules; the meaning of an error lives only here. Pure: no I/O, no metrics.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx2
import openai

from longhaul.core.errors import LonghaulError, NotFound, Transient
from longhaul.core.storage.base import StorageError

Kind = Literal["transient", "permanent", "missing"]

# Statuses worth retrying; 404/410 mean the thing is gone; every other status is permanent.
RETRY_STATUSES = frozenset({408, 409, 429})
MISSING_STATUSES = frozenset({404, 410})

# Transport errors raised before any byte of the request was written: nothing reached the server.
NOT_SENT = (
    httpx2.ConnectError,
    httpx2.ConnectTimeout,
    httpx2.PoolTimeout,
    httpx2.ProxyError,
    ConnectionRefusedError,
)


@dataclass(frozen=True)
class Failure:
    """``error`` is OpenAI-shaped (``code``, ``message``, ``type``; ``param`` and ``status`` when
    the other side answered) and is what a job records. ``maybe_sent`` is False when the other
    side answered (an error answer means nothing was done) or when nothing was written (a refused
    connection, an SSRF refusal); True when the request may have been processed unseen (a read
    timeout or a connection closed after the request was written)."""

    kind: Kind
    error: dict[str, Any] = field(default_factory=dict)
    status: int | None = None
    retry_after: float | None = None
    maybe_sent: bool = False

    @property
    def transient(self) -> bool:
        return self.kind == "transient"


def classify(exc: BaseException) -> Failure:
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = {
            "code": body.get("code") or exc.code,
            "message": body.get("message") or exc.message,
            "type": body.get("type") or exc.type,
            "param": body.get("param") or exc.param,
            "status": exc.status_code,
        }
        return from_status(exc.status_code, exc.response.headers, error)
    if isinstance(exc, httpx2.HTTPStatusError):
        response = exc.response
        error = {"code": None, "message": str(exc), "type": "http_error"}
        return from_status(response.status_code, response.headers, error)
    if isinstance(exc, openai.APIConnectionError):
        code = "timeout" if isinstance(exc, openai.APITimeoutError) else "connection_error"
        error = {"code": code, "message": str(exc), "type": "upstream_error"}
        return Failure("transient", error, maybe_sent=_maybe_sent(exc))
    if isinstance(exc, httpx2.RequestError | TimeoutError):  # transport trouble, a garbled answer
        timeout = isinstance(exc, httpx2.TimeoutException | TimeoutError)
        code = "timeout" if timeout else "connection_error"
        error = {"code": code, "message": _text(exc), "type": "http_error"}
        return Failure("transient", error, maybe_sent=_maybe_sent(exc))
    if isinstance(exc, NotFound):  # Longhaul's own: the thing to call or fetch is gone
        return Failure(
            "missing", {"code": exc.code, "message": exc.message, "type": "longhaul_error"}
        )
    if isinstance(exc, FileNotFoundError):
        return Failure("missing", {"code": "not_found", "message": _text(exc), "type": "storage"})
    if isinstance(exc, StorageError):
        return Failure(
            "permanent", {"code": "storage_error", "message": _text(exc), "type": "storage"}
        )
    if isinstance(exc, Transient):
        error = {"code": exc.code, "message": exc.message, "type": "longhaul_error"}
        return Failure("transient", error, retry_after=exc.retry_after)
    if isinstance(exc, LonghaulError):  # Longhaul's own refusals (SSRF, a bad URL): permanent
        return refused(exc)
    error = {"code": "upstream_error", "message": str(exc), "type": "upstream_error"}
    return Failure("permanent", error)


def refused(exc: BaseException) -> Failure:
    """Longhaul refused to send (an SSRF check, a URL it cannot use): permanent, nothing sent."""
    code = exc.code if isinstance(exc, LonghaulError) else "refused"
    message = exc.message if isinstance(exc, LonghaulError) else str(exc)
    return Failure("permanent", {"code": code, "message": message, "type": "longhaul_error"})


def from_status(
    status: int, headers: Mapping[str, str] | None = None, error: dict[str, Any] | None = None
) -> Failure:
    """An answer that is not a success. A quota error (429 ``insufficient_quota``) will not go
    away by waiting; 5xx is retried whatever its code."""
    error = (
        error
        if error is not None
        else {"code": None, "message": f"HTTP {status}", "type": "http_error"}
    )
    error.setdefault("status", status)
    quota = "insufficient_quota" in (error.get("code"), error.get("type"))
    if status in MISSING_STATUSES:
        kind: Kind = "missing"
    elif status >= 500 or (status in RETRY_STATUSES and not quota):
        kind = "transient"
    else:
        kind = "permanent"
    return Failure(kind, error, status=status, retry_after=retry_after(headers))


def retry_after(headers: Mapping[str, str] | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` (OpenAI's) or ``Retry-After`` (RFC 9110:
    delta-seconds or an HTTP date; a date in the past means now). Garbage or negative: None."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = _number(lowered.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    value = (lowered.get("retry-after") or "").strip()
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _number(value: str | None) -> float | None:
    try:
        number = float((value or "").strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _maybe_sent(exc: BaseException) -> bool:
    """False only when the transport error (the SDK's wrapped cause, or ``exc`` itself) happened
    before the request was written: a refused connection, a connect or pool timeout."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, NOT_SENT):
            return False
        cause = cause.__cause__ or cause.__context__
    return True


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

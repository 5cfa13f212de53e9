"""The retry policy is pure: which errors are retried, how long to wait, how often."""

from __future__ import annotations

import httpx2
import openai
import pytest

from longhaul.core import failures
from longhaul.core.artifacts import fetch

REQUEST = httpx2.Request("GET", "https://api.example.com/v1/files/x/content")


def status_error(status: int, code: str | None = None, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    response = httpx2.Response(status, request=REQUEST, headers=headers or {})
    body = {"message": "m", "code": code} if code else None  # the SDK unwraps "error"
    cls = {404: openai.NotFoundError, 429: openai.RateLimitError}.get(status, openai.APIStatusError)
    if status >= 500:
        cls = openai.InternalServerError
    return cls("m", response=response, body=body)


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (status_error(404), "missing"),
        (status_error(410), "missing"),
        (status_error(500), "transient"),
        (status_error(503), "transient"),
        (status_error(429), "transient"),
        (status_error(429, "insufficient_quota"), "permanent"),
        (status_error(408), "transient"),
        (status_error(403), "permanent"),
        (status_error(400), "permanent"),
        (openai.APIConnectionError(request=REQUEST), "transient"),
        (openai.APITimeoutError(request=REQUEST), "transient"),
        (httpx2.ReadError("reset"), "transient"),
        (httpx2.RemoteProtocolError("closed mid-body"), "transient"),
        (fetch.SourceGone("x"), "missing"),
        (ValueError("bug"), "permanent"),
    ],
)
def test_classify(exc: BaseException, outcome: str) -> None:
    assert failures.classify(exc).kind == outcome


def test_delay_is_exponential_capped_and_jittered() -> None:
    assert [fetch.delay(n, jitter=1.0) for n in (1, 2, 3, 4, 10)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert fetch.delay(1, jitter=0.75) == 0.375
    assert all(0.375 <= fetch.delay(1) <= 0.5 for _ in range(50))


def test_retry_after_is_honoured_when_short() -> None:
    assert fetch.delay(1, status_error(429, headers={"retry-after": "3"})) == 3.0
    assert fetch.delay(1, status_error(503, headers={"retry-after-ms": "250"})) == 0.25
    long_wait = status_error(503, headers={"retry-after": "3600"})
    assert fetch.delay(1, long_wait, jitter=1.0) == 0.5


def test_with_retries_is_bounded_and_stops_on_permanent_errors() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def flaky() -> str:
        calls.append(1)
        raise status_error(503)

    with pytest.raises(openai.InternalServerError):
        fetch.with_retries(flaky, sleep=slept.append)
    assert len(calls) == fetch.MAX_ATTEMPTS and len(slept) == fetch.MAX_ATTEMPTS - 1

    calls.clear()

    def gone() -> str:
        calls.append(1)
        raise status_error(404)

    with pytest.raises(openai.NotFoundError):
        fetch.with_retries(gone, sleep=slept.append)
    assert len(calls) == 1

    attempts = iter([status_error(500), "ok"])

    def recovers() -> str:
        value = next(attempts)
        if isinstance(value, Exception):
            raise value
        return value

    assert fetch.with_retries(recovers, sleep=lambda s: None) == "ok"


def test_base64_is_decoded_in_pieces() -> None:
    import base64

    data = bytes(range(256)) * 5000
    encoded = base64.b64encode(data).decode()
    pieces = list(fetch._b64_chunks(encoded, chunk_chars=4000))
    assert len(pieces) > 1 and b"".join(pieces) == data
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    assert b"".join(fetch._b64_chunks(wrapped, chunk_chars=4000)) == data

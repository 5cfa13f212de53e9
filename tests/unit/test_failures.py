"""The one failure vocabulary: every kind of error a step meets, as a table, plus the real
transport errors (a refused connection, a read timeout after sending) made by real sockets."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx2
import openai
import pytest

from longhaul.core import failures
from longhaul.core.errors import NotFound, Transient
from longhaul.core.storage.base import InvalidKey, ObjectTooLarge, StorageError
from longhaul.core.webhooks.ssrf import BlockedDestination

REQUEST = httpx2.Request("POST", "https://api.example.com/v1/responses")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def sdk_error(status: int, body: dict[str, object] | None = None, **headers: str) -> Exception:
    response = httpx2.Response(status, request=REQUEST, headers=headers)
    return openai.APIStatusError("m", response=response, body=body)


def http_error(status: int, **headers: str) -> httpx2.HTTPStatusError:
    response = httpx2.Response(status, request=REQUEST, headers=headers)
    return httpx2.HTTPStatusError("bad", request=REQUEST, response=response)


def wrapped(cause: Exception, timeout: bool = False) -> openai.APIConnectionError:
    """What the SDK raises: its own error with the transport error as ``__cause__``."""
    cls = openai.APITimeoutError if timeout else openai.APIConnectionError
    try:
        raise cls(request=REQUEST) from cause
    except openai.APIConnectionError as exc:
        return exc


QUOTA = {"code": "insufficient_quota", "message": "quota", "type": "insufficient_quota"}
RATE = {"code": "rate_limit_exceeded", "message": "slow down", "type": "requests"}


@pytest.mark.parametrize(
    ("exc", "kind", "maybe_sent", "retry_after"),
    [
        # upstream answers (SDK)
        (sdk_error(400), "permanent", False, None),
        (sdk_error(401), "permanent", False, None),
        (sdk_error(403), "permanent", False, None),
        (sdk_error(404), "missing", False, None),
        (sdk_error(410), "missing", False, None),
        (sdk_error(408), "transient", False, None),
        (sdk_error(409), "transient", False, None),
        (sdk_error(429, RATE, **{"retry-after": "7"}), "transient", False, 7.0),
        (
            sdk_error(429, RATE, **{"retry-after-ms": "250", "retry-after": "7"}),
            "transient",
            False,
            0.25,
        ),
        (sdk_error(429, QUOTA), "permanent", False, None),
        (sdk_error(500), "transient", False, None),
        (sdk_error(503, QUOTA, **{"retry-after": "2"}), "transient", False, 2.0),
        # upstream transport (SDK-wrapped): refused = never sent; after writing = maybe sent
        (wrapped(httpx2.ConnectError("refused")), "transient", False, None),
        (wrapped(httpx2.ConnectTimeout("slow connect"), timeout=True), "transient", False, None),
        (wrapped(httpx2.PoolTimeout("pool"), timeout=True), "transient", False, None),
        (wrapped(httpx2.ReadTimeout("no answer"), timeout=True), "transient", True, None),
        (wrapped(httpx2.WriteTimeout("half written"), timeout=True), "transient", True, None),
        (wrapped(httpx2.RemoteProtocolError("closed")), "transient", True, None),
        (wrapped(httpx2.ReadError("reset")), "transient", True, None),
        (openai.APIConnectionError(request=REQUEST), "transient", True, None),
        # plain HTTP (artifact downloads, webhook receivers)
        (http_error(404), "missing", False, None),
        (http_error(410), "missing", False, None),
        (http_error(302), "permanent", False, None),
        (http_error(400), "permanent", False, None),
        (http_error(429, **{"Retry-After": "30"}), "transient", False, 30.0),
        (http_error(502), "transient", False, None),
        (httpx2.ConnectError("refused"), "transient", False, None),
        (httpx2.ReadTimeout("no answer"), "transient", True, None),
        (httpx2.RemoteProtocolError("closed mid-body"), "transient", True, None),
        (TimeoutError(), "transient", True, None),
        # storage
        (FileNotFoundError("gone"), "missing", False, None),
        (StorageError("bucket"), "permanent", False, None),
        (ObjectTooLarge(10), "permanent", False, None),
        (InvalidKey("../x"), "permanent", False, None),
        # Longhaul's own refusals and errors
        (BlockedDestination("Refusing to deliver to x: loopback"), "permanent", False, None),
        (Transient("busy", retry_after=3), "transient", False, 3.0),
        (NotFound("The job's upstream no longer exists."), "missing", False, None),
        (ValueError("bug"), "permanent", False, None),
    ],
)
def test_classify(exc: Exception, kind: str, maybe_sent: bool, retry_after: float | None) -> None:
    failure = failures.classify(exc)
    assert (failure.kind, failure.maybe_sent, failure.retry_after) == (
        kind,
        maybe_sent,
        retry_after,
    )
    assert failure.transient is (kind == "transient")
    assert failure.error["message"]


def test_upstream_answers_keep_the_upstreams_own_error() -> None:
    failure = failures.classify(sdk_error(429, RATE))
    assert failure.status == 429
    assert failure.error == {
        "code": "rate_limit_exceeded",
        "message": "slow down",
        "type": "requests",
        "param": None,
        "status": 429,
    }
    timeout = failures.classify(wrapped(httpx2.ReadTimeout("x"), timeout=True))
    assert timeout.error["code"] == "timeout" and timeout.status is None
    refused = failures.classify(wrapped(httpx2.ConnectError("x")))
    assert refused.error["code"] == "connection_error"
    blocked = failures.classify(BlockedDestination("no"))
    assert blocked.error["code"] == "webhook_destination_blocked" and blocked.status is None


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "20", "Retry-After": "9"}, 0.02),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"Retry-After": "30"}, 30.0),
        ({"retry-after": " 1.5 "}, 1.5),
        ({"retry-after": "Thu, 01 Jan 2026 00:01:30 GMT"}, 90.0),
        ({"retry-after": "Wed, 31 Dec 2025 23:00:00 GMT"}, 0.0),  # in the past: now
        ({"retry-after": "-1"}, None),
        ({"retry-after-ms": "-5"}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after": ""}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after(headers: dict[str, str] | None, seconds: float | None) -> None:
    assert failures.retry_after(headers, now=NOW) == seconds


def test_retry_after_reads_httpx_headers() -> None:
    headers = httpx2.Headers({"Retry-After": "Thu, 01 Jan 2026 00:00:10 GMT"})
    assert failures.retry_after(headers, now=NOW) == 10.0


# --- real sockets: what the SDK really raises ------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[tuple[int, list[bytes]]]:
    """Accepts, reads the request, never answers."""
    received: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def run() -> None:
        server.settimeout(0.1)
        conns = []
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conns.append(conn)
            received.append(conn.recv(65536))
        for conn in conns:
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def sdk(port: int) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-x", max_retries=0, timeout=0.5
    )


def test_a_refused_connection_was_not_sent(closed_port: int) -> None:
    with pytest.raises(openai.APIConnectionError) as caught:
        sdk(closed_port).responses.create(model="m", input="x")
    failure = failures.classify(caught.value)
    assert failure.kind == "transient" and failure.maybe_sent is False


def test_a_read_timeout_after_sending_may_have_been_sent(
    silent_server: tuple[int, list[bytes]],
) -> None:
    port, received = silent_server
    with pytest.raises(openai.APITimeoutError) as caught:
        sdk(port).responses.create(model="m", input="x")
    assert received and received[0].startswith(b"POST /v1/responses")
    failure = failures.classify(caught.value)
    assert failure.kind == "transient" and failure.maybe_sent is True

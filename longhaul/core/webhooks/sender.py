"""One HTTP POST of a signed webhook to a pinned, SSRF-checked address. Never raises: every
outcome (refused, unreachable, timed out, answered) comes back as a ``SendResult``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx2

from longhaul.core import failures
from longhaul.core.failures import Failure
from longhaul.core.webhooks.ssrf import Allow, BlockedDestination, pin

MAX_READ_BYTES = 64 * 1024
KEPT_BODY_CHARS = 1024
USER_AGENT = "Longhaul-Webhooks/1.0"


@dataclass(frozen=True)
class SendResult:
    """``failure`` is None for a 2xx answer, else what went wrong in the shared vocabulary."""

    status_code: int | None = None
    latency_ms: int = 0
    body: str | None = None
    error: str | None = None
    ip: str | None = None
    failure: Failure | None = None


def send(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow: Allow,
    connect_timeout: float,
    read_timeout: float,
) -> SendResult:
    """POST ``body`` exactly as signed. Redirects are not followed; the response body is read up
    to 64 KiB and at most ``read_timeout`` overall, and kept truncated to 1 KiB."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = pin(url, allow)
    except Exception as exc:  # refused (SSRF) or not a deliverable URL: permanent, nothing sent
        error = exc.message if isinstance(exc, BlockedDestination) else str(exc)
        return SendResult(latency_ms=elapsed(), error=error, failure=failures.refused(exc))

    request_headers = {
        **headers,
        "host": target.host_header,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    extensions = {"sni_hostname": target.host} if target.tls else {}
    timeout = httpx2.Timeout(read_timeout, connect=connect_timeout)
    deadline = started + connect_timeout + read_timeout
    try:
        with (
            httpx2.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream(
                "POST", target.url, content=body, headers=request_headers, extensions=extensions
            ) as response,
        ):
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_READ_BYTES or time.monotonic() > deadline:
                    break
            text = b"".join(chunks)[:MAX_READ_BYTES].decode("utf-8", "replace")
            ok = 200 <= response.status_code < 300
            return SendResult(
                status_code=response.status_code,
                latency_ms=elapsed(),
                body=text[:KEPT_BODY_CHARS],
                ip=target.ip,
                failure=None
                if ok
                else failures.from_status(response.status_code, response.headers),
            )
    except httpx2.HTTPError as exc:
        return SendResult(
            latency_ms=elapsed(),
            error=f"{type(exc).__name__}: {exc}"[:1000],
            ip=target.ip,
            failure=failures.classify(exc),
        )

"""Reading a source's bytes from the upstream, and the retry policy around it.

Bytes are streamed (``with_streaming_response``) and handed to storage as an iterator of chunks,
so nothing here holds a whole file. The policy is pure: :func:`delay` and :func:`with_retries`
over the shared :func:`longhaul.core.failures.classify`.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlsplit

import httpx2
import openai

from longhaul.core import failures
from longhaul.core.artifacts.sources import ArtifactSource
from longhaul.core.errors import NotFound

CHUNK_SIZE = 1024 * 1024
MAX_ATTEMPTS = 4
BASE_DELAY = 0.5
MAX_DELAY = 8.0
MAX_RETRY_AFTER = 15.0

T = TypeVar("T")


class SourceGone(NotFound):
    """The upstream no longer has the file (404/410: expired container, deleted file)."""


def delay(attempt: int, exc: BaseException | None = None, *, jitter: float | None = None) -> float:
    """Seconds before retry ``attempt`` (1-based): exponential, capped, jittered (75-100 %);
    a server's ``Retry-After`` wins when it is short enough to wait for."""
    retry_after = None if exc is None else failures.classify(exc).retry_after
    if retry_after is not None and 0 <= retry_after <= MAX_RETRY_AFTER:
        return retry_after
    factor = random.uniform(0.75, 1.0) if jitter is None else jitter
    return min(BASE_DELAY * 2 ** (attempt - 1), MAX_DELAY) * factor


def with_retries(
    action: Callable[[], T],
    *,
    attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if not failures.classify(exc).transient or attempt == attempts:
                raise
            sleep(delay(attempt, exc))
    raise AssertionError("unreachable")


@contextmanager
def open_source(source: ArtifactSource, upstream: openai.OpenAI) -> Iterator[Iterator[bytes]]:
    """The source's bytes as an iterator of chunks, valid inside the ``with`` block."""
    if source.image_b64 is not None:
        yield _b64_chunks(source.image_b64)
    elif source.container_id and source.file_id:
        content = upstream.containers.files.content.with_streaming_response
        with content.retrieve(source.file_id, container_id=source.container_id) as response:
            yield response.iter_bytes(CHUNK_SIZE)
    elif source.file_id:
        with upstream.files.with_streaming_response.content(source.file_id) as response:
            yield response.iter_bytes(CHUNK_SIZE)
    elif source.url and source.url.startswith("data:"):
        header, _, payload = source.url.partition(",")
        yield _b64_chunks(payload) if header.endswith(";base64") else iter([payload.encode()])
    elif source.url:
        with _http_stream(source.url, upstream) as chunks:
            yield chunks
    else:
        raise ValueError(f"artifact source {source.key!r} has nothing to fetch")


@contextmanager
def _http_stream(url: str, upstream: openai.OpenAI) -> Iterator[Iterator[bytes]]:
    """Plain GET; the upstream's credentials are sent only to the upstream's own origin."""
    headers = {}
    if _origin(url) == _origin(str(upstream.base_url)):
        headers["Authorization"] = f"Bearer {upstream.api_key}"
    timeout = httpx2.Timeout(60.0, connect=5.0)
    with httpx2.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=False) as r:
        r.raise_for_status()
        yield r.iter_bytes(CHUNK_SIZE)


def _b64_chunks(data: str, chunk_chars: int = 4 * 256 * 1024) -> Iterator[bytes]:
    """Decode base64 piecewise (slices on 4-character boundaries; whitespace removed)."""
    compact = "".join(data.split()) if any(c.isspace() for c in data[:4096]) else data
    for start in range(0, len(compact), chunk_chars):
        yield base64.b64decode(compact[start : start + chunk_chars], validate=False)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc

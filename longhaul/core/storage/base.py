"""The storage interface every backend implements, its errors, and the key rules.

Backends take a stream and never hold a whole object in memory: ``put`` reads the source in
chunks through :class:`HashingReader`, which counts and hashes the bytes as they pass and stops
reading as soon as ``max_bytes`` is exceeded.
"""

from __future__ import annotations

import hashlib
import io
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

CHUNK_SIZE = 1024 * 1024
MAX_KEY_LENGTH = 1024
_KEY_SEGMENT = re.compile(r"^[A-Za-z0-9._=+@-]+$")


class StorageError(Exception):
    """Base class of storage failures other than a missing key (``FileNotFoundError``)."""


class InvalidKey(StorageError, ValueError):
    """The key is malformed or would escape the storage root."""


class ObjectTooLarge(StorageError):
    """The source had more than ``max_bytes`` bytes; nothing was stored."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"object exceeds the limit of {max_bytes} bytes")
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str
    content_type: str | None


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


Source = Readable | BinaryIO | Iterable[bytes] | bytes


class ObjectStream(Iterator[bytes]):
    """Chunks of a stored object; closing releases the file or HTTP connection."""

    def __init__(self, chunks: Iterator[bytes], close: object = None) -> None:
        self._chunks = chunks
        self._close = close

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        if callable(self._close):
            self._close()
            self._close = None

    def __enter__(self) -> ObjectStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_all(self) -> bytes:
        """Convenience for tests and small objects only."""
        with self:
            return b"".join(self)


class HashingReader(io.RawIOBase):
    """A non-seekable, file-like view of a source that counts and hashes what is read.

    ``head()`` peeks at the first bytes (for content sniffing) without losing them.
    """

    def __init__(self, source: Source, *, max_bytes: int | None = None) -> None:
        super().__init__()
        if isinstance(source, bytes | bytearray | memoryview):
            source = io.BytesIO(bytes(source))
        if hasattr(source, "read"):
            reader = source
            self._chunks: Iterator[bytes] = iter(lambda: reader.read(CHUNK_SIZE), b"")  # type: ignore[union-attr]
        else:
            self._chunks = iter(source)  # type: ignore[arg-type]
        self._buffer = b""
        self._max_bytes = max_bytes
        self._hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def head(self, size: int = 512) -> bytes:
        while len(self._buffer) < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buffer += chunk
        return self._buffer[:size]

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK_SIZE), b""))
        if len(self._buffer) < size:
            # Gather then join once: repeated concatenation would copy a large read many times.
            parts, have = [self._buffer], len(self._buffer)
            while have < size:
                chunk = next(self._chunks, b"")
                if not chunk:
                    break
                parts.append(chunk)
                have += len(chunk)
            self._buffer = b"".join(parts)
        if len(self._buffer) <= size:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        self.size += len(data)
        if self._max_bytes is not None and self.size > self._max_bytes:
            raise ObjectTooLarge(self._max_bytes)
        self._hash.update(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def validate_key(key: str) -> str:
    """Keys are ``/``-separated segments of safe ASCII; no empty, ``.`` or ``..`` segment."""
    if not key or len(key) > MAX_KEY_LENGTH or key.startswith("/"):
        raise InvalidKey(f"invalid storage key {key!r}")
    for segment in key.split("/"):
        if segment in ("", ".", "..") or not _KEY_SEGMENT.match(segment):
            raise InvalidKey(f"invalid storage key {key!r}")
    return key


class Storage(ABC):
    """Where artifacts live. Every backend raises ``FileNotFoundError`` for a missing key."""

    @abstractmethod
    def put(
        self,
        key: str,
        stream: Source,
        *,
        content_type: str | None = None,
        max_bytes: int | None = None,
    ) -> StoredObject:
        """Store ``stream`` under ``key`` (replacing any object there), streaming.

        ``content_type`` ``None`` means detect it from the first bytes and the key's extension.
        Raises :class:`ObjectTooLarge` (and stores nothing) past ``max_bytes``.
        """

    @abstractmethod
    def open(self, key: str) -> ObjectStream:
        """The object's bytes as a stream of chunks; ``FileNotFoundError`` if absent."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error (idempotent cleanup)."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def url(self, key: str, ttl: int, *, filename: str | None = None) -> str | None:
        """A time-limited direct download URL, or ``None`` when the backend has none (local)."""

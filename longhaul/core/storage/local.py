"""``LocalStorage``: objects are files under one root folder (written atomically)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from longhaul.core.storage import content_types
from longhaul.core.storage.base import (
    CHUNK_SIZE,
    HashingReader,
    InvalidKey,
    ObjectStream,
    Source,
    Storage,
    StorageError,
    StoredObject,
    validate_key,
)


class LocalStorage(Storage):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file for ``key``; refuses any key that resolves outside the root (symlinks too)."""
        validate_key(key)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidKey(f"storage key {key!r} escapes the storage root")
        return path

    def put(
        self,
        key: str,
        stream: Source,
        *,
        content_type: str | None = None,
        max_bytes: int | None = None,
    ) -> StoredObject:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        reader = HashingReader(stream, max_bytes=max_bytes)
        if content_type is None:
            content_type = content_types.detect(reader.head(), key)
        # Write beside the target, then rename: readers never see a half-written object and a
        # re-run replaces the old file in one step. The partial file has one name per key, so a
        # writer killed mid-way leaves nothing behind once the key is written again; an exclusive
        # lock (released by the kernel when a writer dies) keeps two live writers apart.
        partial = target.with_name(f".{target.name}.partial")
        try:
            with partial.open("ab") as out:
                try:
                    fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError as exc:
                    raise StorageError(f"{key!r} is being written by another process") from exc
                out.truncate(0)
                while chunk := reader.read(CHUNK_SIZE):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
                os.replace(partial, target)
        except BaseException as exc:
            if not isinstance(exc, StorageError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(partial)
            if isinstance(exc, OSError):
                raise StorageError(f"writing {key!r} failed: {exc}") from exc
            raise
        return StoredObject(key, reader.size, reader.sha256, content_type)

    def open(self, key: str) -> ObjectStream:
        handle = self.path(key).open("rb")  # FileNotFoundError propagates as the contract says
        return ObjectStream(iter(lambda: handle.read(CHUNK_SIZE), b""), handle.close)

    def delete(self, key: str) -> None:
        path = self.path(key)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        # Drop now-empty folders up to the root so deleted jobs leave no trace.
        for parent in path.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def url(self, key: str, ttl: int, *, filename: str | None = None) -> str | None:
        self.path(key)
        return None

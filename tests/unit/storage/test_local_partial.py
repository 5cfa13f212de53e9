"""LocalStorage after a writer was killed mid-file, and with two live writers on one key."""

from __future__ import annotations

import fcntl
import io
from pathlib import Path

import pytest

from longhaul.core.storage.base import StorageError
from longhaul.core.storage.local import LocalStorage


def test_partial_left_by_a_killed_writer_is_reused_not_orphaned(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    target = storage.path("t/1/job/a/file.bin")
    target.parent.mkdir(parents=True)
    stale = target.with_name(".file.bin.partial")
    stale.write_bytes(b"x" * 10_000)  # what a SIGKILLed writer leaves: no lock, no rename

    stored = storage.put("t/1/job/a/file.bin", io.BytesIO(b"hello"))

    assert stored.size == 5 and target.read_bytes() == b"hello"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]


def test_second_live_writer_is_refused_and_does_not_disturb_the_first(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    target = storage.path("k/file.bin")
    target.parent.mkdir(parents=True)
    partial = target.with_name(".file.bin.partial")
    with partial.open("ab") as held:
        held.write(b"in progress")
        held.flush()
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(StorageError, match="another process"):
            storage.put("k/file.bin", io.BytesIO(b"other"))
        assert partial.read_bytes() == b"in progress"
    assert not target.exists()

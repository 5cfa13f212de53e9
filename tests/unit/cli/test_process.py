"""Supervision: children stop in order and leave nothing behind; PIDs are never confused."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psutil

from longhaul.cli.process import (
    ProcessRecord,
    Supervisor,
    group_members,
    read_state,
    terminate_records,
    write_state,
)


def _sh(script: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sh", "-c", script], start_new_session=True)


def _wait_for_members(record: ProcessRecord, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(group_members(record)) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_stop_all_removes_children_and_their_children(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, os.environ)
    first = sup.adopt("first", _sh("sleep 300 & sleep 300; wait"), tmp_path / "first.log")
    second = sup.adopt("second", _sh("sleep 300"), tmp_path / "second.log")
    records = [c.record() for c in (first, second)]
    _wait_for_members(records[0], 3)
    assert len(group_members(records[0])) == 3  # sh and both sleeps
    sup.stop_all()
    assert first.proc.poll() is not None and second.proc.poll() is not None
    assert all(group_members(r) == [] for r in records)
    assert sup.children == []


def test_exited_reports_a_dead_child(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, os.environ)
    sup.adopt("long", _sh("sleep 300"), tmp_path / "a.log")
    short = sup.adopt("short", _sh("exit 3"), tmp_path / "b.log")
    short.proc.wait(10)
    try:
        assert sup.exited() is short
    finally:
        sup.stop_all()


def test_a_reused_pid_is_not_ours() -> None:
    me = ProcessRecord.of("me", os.getpid(), group_leader=False)
    assert me.alive()
    impostor = ProcessRecord("me", os.getpid(), me.create_time - 3600)
    assert not impostor.alive()
    assert terminate_records([impostor], timeout=1) == []  # never signalled


def test_terminate_records_removes_orphans_of_a_dead_leader() -> None:
    proc = _sh("sleep 300 & exit 0")  # the leader exits, its child stays in the group
    record = ProcessRecord.of("leader", proc.pid)
    proc.wait(10)
    _wait_for_members(record, 1)
    orphans = group_members(record)
    assert len(orphans) == 1
    terminate_records([record], timeout=5)
    psutil.wait_procs(orphans, timeout=5)
    assert group_members(record) == []


def test_state_file_round_trip_is_private(tmp_path: Path) -> None:
    write_state(tmp_path, {"status": "ready", "info": {"api_key": "secret"}})
    assert read_state(tmp_path) == {"status": "ready", "info": {"api_key": "secret"}}
    assert (tmp_path / "stack.json").stat().st_mode & 0o077 == 0


def test_logs_and_their_folder_are_private(tmp_path: Path) -> None:
    """``up``'s log holds the dev API key (its banner): never readable by other users."""
    from longhaul.cli.process import open_private_log, private_dir

    logs = tmp_path / "logs"
    private_dir(logs)
    (logs / "old.log").write_text("x")  # written before, with the default mode
    (logs / "old.log").chmod(0o644)
    for name in ("new.log", "old.log"):
        with open_private_log(logs / name) as out:
            out.write(b"API key lh_sk_...\n")
        assert (logs / name).stat().st_mode & 0o077 == 0
    assert logs.stat().st_mode & 0o077 == 0
    assert (logs / "old.log").read_text() == "xAPI key lh_sk_...\n"  # appended

"""Child processes of `longhaul up`: start, watch, stop by PID; the state file `status`/`down` read.

Every child gets its own session (``start_new_session=True``), so a Ctrl-C in the terminal reaches
only the supervisor, which then stops the children in reverse order, and `longhaul down` can remove
each child's whole process group. A record keeps each PID with its start time, so a PID reused by
an unrelated process after a crash is never signalled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import psutil

from longhaul.cli.procs import group_processes, stop_process

STATE_FILE = "stack.json"
LOG_MAX_BYTES = 20 * 1024 * 1024
LOG_BACKUPS = 3


def rotate(log: Path, *, max_bytes: int, backups: int) -> bool:
    """Rotate ``log`` when larger than ``max_bytes``; True when it did."""
    import shutil

    try:
        if log.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    for n in range(backups - 1, 0, -1):
        older = log.with_name(f"{log.name}.{n}")
        if older.exists():
            older.replace(log.with_name(f"{log.name}.{n + 1}"))
    shutil.copyfile(log, log.with_name(f"{log.name}.1"))
    with log.open("r+b") as f:
        f.truncate(0)
    return True


@dataclass(frozen=True)
class ProcessRecord:
    """What `status` and `down` need about one process, even from another shell."""

    name: str
    pid: int
    create_time: float
    log: str | None = None
    stop_signal: int = signal.SIGTERM
    group_leader: bool = True
    """Started in its own session: its process group is ours to remove."""

    @classmethod
    def of(
        cls,
        name: str,
        pid: int,
        log: Path | None = None,
        *,
        stop_signal: int = signal.SIGTERM,
        group_leader: bool = True,
    ) -> ProcessRecord:
        create_time = psutil.Process(pid).create_time()
        return cls(
            name, pid, create_time, str(log) if log else None, int(stop_signal), group_leader
        )

    def process(self) -> psutil.Process | None:
        """The live process, or None when it exited (or its PID now belongs to another one)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 1 or proc.status() == "zombie":
                return None
            return proc
        except psutil.Error:
            return None

    def alive(self) -> bool:
        return self.process() is not None


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 20.0

    def record(self) -> ProcessRecord:
        return ProcessRecord.of(self.name, self.proc.pid, self.log, stop_signal=self.stop_signal)


def private_dir(path: Path) -> None:
    """A folder only its owner can enter: logs can hold the dev API key (``up``'s banner)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def open_private_log(path: Path) -> BinaryIO:
    """``path`` for appending, readable by its owner only (mode 0600, also when it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


class Supervisor:
    """Starts children with logs in ``log_dir``, notices one that dies, stops all in reverse."""

    def __init__(self, log_dir: Path, env: Mapping[str, str]) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        self.children: list[Child] = []
        private_dir(log_dir)

    def spawn(self, name: str, args: list[str], **kwargs: Any) -> Child:
        """Run ``longhaul <args>`` with this interpreter, output appended to ``<name>.log``."""
        log = self.log_dir / f"{name}.log"
        with open_private_log(log) as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "longhaul.cli.main", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        return self.adopt(name, proc, log, **kwargs)

    def adopt(self, name: str, proc: subprocess.Popen[bytes], log: Path, **kwargs: Any) -> Child:
        child = Child(name, proc, log, **kwargs)
        self.children.append(child)
        return child

    def discard(self, child: Child) -> None:
        """Stop one child and forget it (e.g. it lost a race for its port)."""
        stop_process(child.proc, sig=child.stop_signal, timeout=child.stop_timeout)
        self.children.remove(child)

    def exited(self) -> Child | None:
        return next((c for c in self.children if c.proc.poll() is not None), None)

    def records(self) -> list[ProcessRecord]:
        return [c.record() for c in self.children if c.proc.poll() is None]

    def rotate_logs(self, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS) -> None:
        """Copy-and-truncate every log past ``max_bytes`` (``x.log`` -> ``x.log.1`` … ``.N``).
        Children write in append mode, so after the truncation they go on at the new end; a
        line written during the copy may be lost, as with logrotate's copytruncate."""
        for log in {self.log_dir / "up.log", *(c.log for c in self.children)}:
            rotate(log, max_bytes=max_bytes, backups=backups)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            stop_process(child.proc, sig=child.stop_signal, timeout=child.stop_timeout)
        self.children.clear()


# --- state file ---------------------------------------------------------------------------------


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def write_state(data_dir: Path, state: dict[str, Any]) -> None:
    path = state_path(data_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.chmod(tmp, 0o600)  # it holds the dev API key
    tmp.replace(path)


def read_state(data_dir: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(state_path(data_dir).read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def supervisor_of(state: Mapping[str, Any]) -> ProcessRecord | None:
    return ProcessRecord(**state["supervisor"]) if state.get("supervisor") else None


def children_of(state: Mapping[str, Any]) -> list[ProcessRecord]:
    """The supervisor's children in start order."""
    return [ProcessRecord(**r) for r in state.get("processes", [])]


def record_dict(record: ProcessRecord) -> dict[str, Any]:
    return asdict(record)


def running_supervisor(data_dir: Path) -> dict[str, Any] | None:
    """The state of a stack whose supervisor still runs, else None."""
    state = read_state(data_dir)
    supervisor = supervisor_of(state) if state else None
    return state if supervisor is not None and supervisor.alive() else None


def terminate_records(records: list[ProcessRecord], *, timeout: float) -> list[ProcessRecord]:
    """Send each live process its stop signal, wait, then SIGKILL what is left, including anything
    left in the process groups our children led; return the records still alive at the start."""
    live = [(r, p) for r in records if (p := r.process()) is not None]
    for record, proc in live:
        with suppress(psutil.Error):
            proc.send_signal(record.stop_signal)
    deadline = time.monotonic() + timeout
    for record, proc in live:
        with suppress(psutil.Error):
            proc.wait(max(0.1, deadline - time.monotonic()))
        if record.alive():
            with suppress(psutil.Error):
                proc.kill()
    for record in records:
        for straggler in group_members(record):
            with suppress(psutil.Error):
                straggler.kill()
    return [r for r, _ in live]


def group_members(record: ProcessRecord) -> list[psutil.Process]:
    """Live processes in the group ``record`` led, started no earlier than it (so never an
    unrelated process that reused the number)."""
    if not record.group_leader:
        return []
    return group_processes(record.pid, since=record.create_time)

"""Small helpers for child processes and loopback ports: pick a port, wait for health (failing
early when the child dies), stop a child and everything in its process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """``preferred`` if nothing listens there, else any free port."""
    if preferred and not port_in_use(preferred, host):
        return preferred
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        if s.connect_ex((host, port)) == 0:
            return True
    with socket.socket() as s:
        # As servers do: connections in TIME_WAIT on the port don't stop them from binding.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` itself has a listening TCP socket on ``port``."""
    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns)


def wait_until(
    check: Any,
    *,
    timeout: float,
    what: str,
    proc: subprocess.Popen[Any] | None = None,
    log_file: Path | None = None,
) -> None:
    """Poll ``check()`` until true; fail early (with the log's tail) if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}{tail(log_file)}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready within {timeout:.0f}s{tail(log_file)}")


def tail(log_file: Path | None, lines: int = 20) -> str:
    if log_file is None or not log_file.exists():
        return ""
    text = log_file.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log_file}:\n" + "\n".join(text)


def stop_process(
    proc: subprocess.Popen[Any], *, sig: int = signal.SIGTERM, timeout: float = 20
) -> None:
    """Ask a child started with ``start_new_session=True`` to stop (``sig`` to its leader only, so
    it can shut its own children down in order), then kill whatever is left in its group."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    killpg(proc.pid, signal.SIGKILL)  # stragglers left in the group (e.g. pool children)
    deadline = time.monotonic() + 5
    while group_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def group_processes(pgid: int, *, since: float = 0.0) -> list[psutil.Process]:
    """Live (non-zombie) processes of group ``pgid`` created at ``since`` or later."""
    found = []
    for proc in psutil.process_iter(["create_time"]):
        with suppress(psutil.Error, OSError):
            if (
                os.getpgid(proc.pid) == pgid
                and proc.info["create_time"] >= since - 1
                and proc.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(proc)
    return found


def killpg(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)

"""`longhaul up [--detach]`, `longhaul status`, `longhaul down`: the whole stack on one machine.

`up` runs in the foreground until Ctrl-C. `up --detach` starts the same foreground run as a
background process (its output in ``<data-dir>/logs/up.log``), waits until everything is healthy,
and prints, as its last line, one JSON object (``api``, ``api_key``, ``flower``, ``simulator``, …).
`status` and `down` find that process and its children through ``<data-dir>/stack.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from longhaul.cli.process import (
    children_of,
    open_private_log,
    private_dir,
    read_state,
    running_supervisor,
    state_path,
    supervisor_of,
    terminate_records,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("up", help="run the whole stack on this machine (embedded defaults)")
    p.add_argument("-d", "--detach", action="store_true", help="return once healthy; print JSON")
    p.add_argument("--data-dir", type=Path, help="data folder (default: setting data_dir)")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for health")
    p.set_defaults(func=_up)

    p = sub.add_parser("status", help="show the stack started by `longhaul up`")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--json", action="store_true", help="print the stack's details as JSON")
    p.set_defaults(func=_status)

    p = sub.add_parser("down", help="stop the stack started by `longhaul up`")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--timeout", type=float, default=90.0)
    p.set_defaults(func=_down)


def data_dir_of(args: argparse.Namespace) -> Path:
    from longhaul.core.config import get_settings

    return Path(args.data_dir or get_settings().data_dir).expanduser().resolve()


def _up(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    if args.detach:
        return up_detached(data_dir, timeout=args.timeout)
    from longhaul.cli.launch import StackError, run_stack

    try:
        return run_stack(data_dir, on_ready=print_ready)
    except (StackError, RuntimeError, TimeoutError, OSError) as exc:
        print(f"longhaul up: {exc}", file=sys.stderr)
        return 1


def up_detached(data_dir: Path, *, timeout: float, announce: bool = True) -> int:
    """Start the stack in the background; return 0 once healthy (or when it already runs)."""
    state = running_supervisor(data_dir)
    if state and state.get("status") == "ready":
        if announce:
            print(f"longhaul: the stack in {data_dir} is already running")
            print_ready(state["info"])
        return 0
    if state:
        print(f"longhaul up: a stack in {data_dir} is {state.get('status')}", file=sys.stderr)
        return 1
    log = data_dir / "logs" / "up.log"
    private_dir(log.parent)
    with open_private_log(log) as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "longhaul.cli.main", "up", "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(data_dir)
        if state and state["supervisor"]["pid"] == proc.pid and state["status"] == "ready":
            if announce:
                print_ready(state["info"])
            return 0
        if proc.poll() is not None:
            tail = _tail(log)
            last = tail.splitlines()[-1] if tail else ""
            if last.startswith("longhaul up: "):  # a one-line reason (e.g. a wrong setting)
                print(f"{last} (full log: {log})", file=sys.stderr)
                return 1
            print(f"longhaul up: the stack did not start; {log} ends with:", file=sys.stderr)
            print(tail, file=sys.stderr)
            return 1
        time.sleep(0.2)
    print(f"longhaul up: not healthy within {timeout:.0f}s; stopping (see {log})", file=sys.stderr)
    proc.terminate()
    proc.wait(120)
    return 1


def viewer_url(info: dict[str, Any]) -> str:
    """The job viewer (``/ui``) of a running stack."""
    return str(info.get("viewer") or info["api"].removesuffix("/v1") + "/ui")


def print_ready(info: dict[str, Any]) -> None:
    """A human summary, then the machine-readable line (always the last one)."""
    user, _, password = str(info.get("flower_auth", "")).partition(":")
    upstream = f"simulator at {info['simulator']}" if info.get("simulator") else info["upstream"]
    rows = [
        ("API", f"{info['api']}   (OpenAI SDK base_url)"),
        ("API key", info["api_key"]),
        ("Viewer", f"{viewer_url(info)}   (sign in with the API key)"),
        ("Flower", f"{info['flower']}   (user {user!r}, password {password!r}; read-only)"),
        ("Metrics", info["metrics"]),
        ("Upstream", upstream),
        ("PostgreSQL", f"{info['database']}: {info['database_url']}"),
        ("Redis", f"{info['redis']}: {info['redis_url']}"),
        ("Logs", info["logs"]),
    ]
    print(f"Longhaul is up (data in {info['data_dir']}).")
    for name, value in rows:
        print(f"  {name:<11} {value}")
    print(
        f'Try:  curl -s {info["api"]}/responses -H "Authorization: Bearer {info["api_key"]}" '
        """-H 'Content-Type: application/json' """
        """-d '{"model": "gpt-5", "input": "Say hello", "background": true}'"""
    )
    print("Stop: Ctrl-C (foreground) or `longhaul down`.")
    if info.get("redis") == "fakeredis":
        from longhaul.cli.embedded import FAKE_REDIS_WARNING

        print(f"Warning: {FAKE_REDIS_WARNING}", file=sys.stderr)
    print(json.dumps(info), flush=True)


def _status(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    state = read_state(data_dir)
    if state is None:
        print(f"no stack running from {data_dir}")
        return 3
    supervisor = supervisor_of(state)
    alive = bool(supervisor and supervisor.alive())
    procs = [(r, r.alive()) for r in children_of(state)]
    if args.json:
        print(json.dumps({"running": alive, "status": state["status"], **state.get("info", {})}))
    else:
        label = state["status"] if alive else "not running (stale state: run `longhaul down`)"
        print(f"stack in {data_dir}: {label}")
        for record, ok in procs:
            print(f"  {record.name:<10} pid {record.pid:<8} {'running' if ok else 'EXITED'}")
        info = state.get("info") or {}
        for key in ("api", "flower", "simulator", "api_key"):
            if info.get(key):
                print(f"  {key:<10} {info[key]}")
    return 0 if alive and state["status"] == "ready" and all(ok for _, ok in procs) else 1


def _down(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    return stop_stack(data_dir, timeout=args.timeout)


def stop_stack(data_dir: Path, *, timeout: float = 90.0) -> int:
    """Stop the supervisor (which stops its children in order), then anything still left."""
    state = read_state(data_dir)
    if state is None:
        print(f"no stack running from {data_dir}")
        return 0
    supervisor = supervisor_of(state)
    stopped = terminate_records([supervisor] if supervisor else [], timeout=timeout)
    children = children_of(read_state(data_dir) or state)
    leftovers = terminate_records(children, timeout=20)
    state_path(data_dir).unlink(missing_ok=True)
    if leftovers:
        names = ", ".join(r.name for r in leftovers)
        print(f"longhaul down: had to stop left-over processes: {names}", file=sys.stderr)
    print(f"stopped the stack in {data_dir}" if stopped or leftovers else "nothing was running")
    return 0


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""

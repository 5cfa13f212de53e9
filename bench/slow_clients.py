"""Slow clients against the real API process: one tenant holds N stalled uploads open (half
``POST /v1/responses``, half ``POST /v1/files`` multipart, each announcing 1000 bytes and sending
10), while another tenant lists its jobs. That tenant's latency (p50/p99/max) is measured without
the stall and with it, in alternating rounds of one run against the same API process; the p99
ratio is the figure.

    .venv/bin/python -m bench.slow_clients                      # 200 stalled, 600 reads per phase
    .venv/bin/python -m bench.slow_clients --stalled 500 --rounds 5

The body read timeout is set above the run's length, so every stalled body stays stalled while the
reads are measured; at the end the stalled sockets are checked to be still open and unanswered.
Uses LONGHAUL_TEST_DATABASE_URL (a fresh database on that server) and LONGHAUL_TEST_REDIS_URL when
set, else an embedded PostgreSQL and its own redis-server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

from bench.intake import pct
from longhaul.core import migrate
from longhaul.core.auth import create_api_key
from longhaul.core.db import session_scope
from longhaul.simulator import start_simulator
from tests.support import infra
from tests.support.stack import Stack, base_env


def _stall(port: int, path: str, key: str, content_type: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b"0123456789")
    return sock


def _reads(client: httpx.Client, url: str, key: str, n: int, into: list[float]) -> int:
    """``n`` sequential reads, their times added to ``into``; returns the errors."""
    errors = 0
    for _ in range(n):
        start = time.perf_counter()
        try:
            reply = client.get(url, headers={"Authorization": f"Bearer {key}"})
            errors += reply.status_code != 200
        except httpx.HTTPError:
            errors += 1
        into.append(time.perf_counter() - start)
    return errors


def _summary(times: list[float], errors: int) -> dict[str, Any]:
    times = sorted(times)
    ms = {q: round(pct(times, p) * 1000, 2) for q, p in (("p50", 0.5), ("p99", 0.99))}
    return {**ms, "max": round(times[-1] * 1000, 2), "errors": errors, "reads": len(times)}


def run(stalled: int, reads: int, rounds: int) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        server = os.environ.get("LONGHAUL_TEST_DATABASE_URL") or stack.enter_context(
            infra.postgres_server()
        )
        db_url = stack.enter_context(infra.fresh_database(server))
        redis_url = os.environ.get("LONGHAUL_TEST_REDIS_URL") or stack.enter_context(
            infra.redis_server()
        )
        migrate.upgrade(db_url)
        sim = stack.enter_context(start_simulator())
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="longhaul-slow-"))
        env = {**base_env(db_url, redis_url, sim.url), "LONGHAUL_BODY_READ_TIMEOUT": "3600"}
        api = Stack(env=env, workdir=Path(tmp))
        stack.callback(api.stop_all)
        with session_scope(db_url) as session:
            slow = create_api_key(session, tenant_name="slow")
            reader = create_api_key(session, tenant_name="reader")
        api.start_api()
        port = int(api.api_url.rsplit(":", 1)[1])
        url = f"{api.api_url}/v1/jobs"
        calm: list[float] = []
        slowed: list[float] = []
        errors = {"calm": 0, "stalled": 0}
        answered_early = 0
        with httpx.Client(timeout=60) as client:
            _reads(client, url, reader, 20, [])  # warm: the tenant cache, the pool
            # Phases alternate, so load on the machine from elsewhere weighs on both alike.
            for _ in range(rounds):
                errors["calm"] += _reads(client, url, reader, reads // rounds, calm)
                sockets = [
                    _stall(port, "/v1/responses", slow, "application/json")
                    if i % 2
                    else _stall(port, "/v1/files", slow, "multipart/form-data; boundary=x")
                    for i in range(stalled)
                ]
                try:
                    time.sleep(1)  # every stalled request reached the API and waits for its body
                    errors["stalled"] += _reads(client, url, reader, reads // rounds, slowed)
                    answered_early += len(select.select(sockets, [], [], 0)[0])
                finally:
                    for sock in sockets:
                        sock.close()
                time.sleep(1)  # the API notices the closed sockets
        calm_ms, stalled_ms = _summary(calm, errors["calm"]), _summary(slowed, errors["stalled"])
    return {
        "stalled_uploads": stalled,
        "rounds": rounds,
        "without_stall_ms": calm_ms,
        "with_stall_ms": stalled_ms,
        "p99_ratio": round(stalled_ms["p99"] / calm_ms["p99"], 2),
        "stalled_answered_early": answered_early,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--stalled", type=int, default=200)
    parser.add_argument("--reads", type=int, default=600, help="per phase, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.stalled, args.reads, args.rounds), indent=2))


if __name__ == "__main__":
    main()

"""Waiting plain requests: N concurrent ``POST /v1/responses`` without ``background`` held open by
Longhaul's API while their jobs run, against a bare FastAPI endpoint that holds the same number
of requests on one ``asyncio.Event`` (``bench/bare_wait.py``), same uvicorn arguments, same run.

Per server: RSS before and while the N requests wait, CPU used per second of waiting, database
reads of its jobs table per second of waiting (``pg_stat_user_tables``), then every held request is
released at once (Longhaul: one UPDATE marks every job completed, as finalize would; bare: its
event is set) and the time from release to each answer is measured (p50/p99/max). No worker runs,
so Longhaul's jobs stay queued until the UPDATE.

    .venv/bin/python -m bench.sync_wait                    # 1,000 requests, 20 s of waiting
    .venv/bin/python -m bench.sync_wait --requests 2000 --seconds 30

Uses LONGHAUL_TEST_DATABASE_URL (a fresh database on that server) and LONGHAUL_TEST_REDIS_URL when
set, else an embedded PostgreSQL and its own redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import psycopg

from bench.intake import ROOT, _Named, pct, start, stop
from longhaul.core import migrate
from longhaul.core.auth import create_api_key
from longhaul.core.db import session_scope
from tests.support import infra
from tests.support.stack import wait_http

BODY = json.dumps({"model": "gpt-5.5", "input": "bench"}).encode()  # plain: no background
FINAL = {"object": "response", "status": "completed", "output": [], "model": "gpt-5.5"}


class Held:
    """N raw HTTP/1.1 clients, one request each, started ``stagger`` seconds apart."""

    def __init__(self, port: int, headers: dict[str, str], n: int, stagger: float) -> None:
        lines = [
            "POST /v1/responses HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Content-Type: application/json",
            f"Content-Length: {len(BODY)}",
            "Connection: close",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode() + BODY
        self.port, self.n, self.stagger = port, n, stagger
        self.answers: list[tuple[float, int, bytes]] = []  # (monotonic time, status, body)
        self.errors = 0

    async def one(self, i: int) -> None:
        await asyncio.sleep(i * self.stagger)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.write(self.request)
            await writer.drain()
            data = await reader.read()  # Connection: close, so read to the end
            writer.close()
        except OSError:
            self.errors += 1
            return
        head, _, body = data.partition(b"\r\n\r\n")
        self.answers.append((time.monotonic(), int(head[9:12]), body))

    async def run(self) -> None:
        await asyncio.gather(*(self.one(i) for i in range(self.n)))


def scans(dsn: str, table: str) -> int:
    """Reads of ``table`` so far (index and sequential scans; PostgreSQL's statistics lag by
    about a second, so the window should be long)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables"
            " WHERE relname = %s",
            (table,),
        ).fetchone()
        return int(row[0]) if row else 0


def count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


def release_longhaul(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE jobs SET status = 'completed', finished_at = now(), updated_at = now(),"
            " response_body = %s::jsonb WHERE status = 'queued'",
            (json.dumps(FINAL),),
        )


def release_bare(port: int) -> None:
    import httpx2

    httpx2.post(f"http://127.0.0.1:{port}/release", timeout=30)


def measure(
    name: str,
    port: int,
    headers: dict[str, str],
    pid: int,
    dsn: str,
    args: argparse.Namespace,
    held_sql: str,
) -> dict[str, Any]:
    proc = psutil.Process(pid)
    rss_idle = proc.memory_info().rss
    held = Held(port, headers, args.requests, args.stagger)

    async def scenario() -> dict[str, Any]:
        task = asyncio.create_task(held.run())
        deadline = time.monotonic() + args.requests * args.stagger + 60
        while count(dsn, held_sql) < args.requests:  # every request created and waiting
            if time.monotonic() > deadline or task.done():
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # let the last creates' threads finish
        waiting = count(dsn, held_sql)
        table = "jobs" if name == "longhaul" else "bare_jobs"
        cpu0, scans0, t0 = sum(proc.cpu_times()[:2]), scans(dsn, table), time.monotonic()
        load0 = os.getloadavg()[0]
        peak = proc.memory_info().rss
        while time.monotonic() - t0 < args.seconds:
            await asyncio.sleep(1.0)
            peak = max(peak, proc.memory_info().rss)
        span = time.monotonic() - t0
        cpu = sum(proc.cpu_times()[:2]) - cpu0
        reads = scans(dsn, table) - scans0
        answered_early = len(held.answers)
        released = time.monotonic()
        await asyncio.to_thread(
            release_longhaul if name == "longhaul" else release_bare,
            dsn if name == "longhaul" else port,  # type: ignore[arg-type]
        )
        await asyncio.wait_for(task, timeout=120)
        lat = sorted(at - released for at, _, _ in held.answers[answered_early:])
        completed = sum(
            1 for _, status, body in held.answers if status == 200 and b'"completed"' in body
        )
        return {
            "server": name,
            "requests": args.requests,
            "waiting": waiting,
            "answered_before_release": answered_early,
            "rss_idle_mb": round(rss_idle / 2**20, 1),
            "rss_waiting_mb": round(peak / 2**20, 1),
            "rss_per_request_kb": round((peak - rss_idle) / 1024 / max(waiting, 1), 1),
            "cpu_percent_waiting": round(100 * cpu / span, 2),
            "table_reads_per_s_waiting": round(reads / span, 1),
            "answer_after_release_p50_ms": round(pct(lat, 0.5) * 1000) if lat else None,
            "answer_after_release_p99_ms": round(pct(lat, 0.99) * 1000) if lat else None,
            "answer_after_release_max_ms": round(lat[-1] * 1000) if lat else None,
            "completed_answers": completed,
            "statuses": dict(Counter(status for _, status, _ in held.answers)),
            "connection_errors": held.errors,
            "load_avg_1m": round(load0, 2),
        }

    result = asyncio.run(scenario())
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0, help="waiting window measured")
    parser.add_argument("--stagger", type=float, default=0.01, help="seconds between sends")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with (
        infra.postgres_server() as pg,
        infra.fresh_database(pg) as db_url,
        infra.redis_server(require_real=True) as redis_url,
        tempfile.TemporaryDirectory(prefix="longhaul-bench-wait-") as tmp,
    ):
        migrate.upgrade(db_url)
        with session_scope(db_url) as session:
            key = create_api_key(session, tenant_name="bench")
        dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAUL_")}
        env.update(
            LONGHAUL_DATABASE_URL=db_url,
            LONGHAUL_REDIS_URL=redis_url,
            LONGHAUL_OPENAI_BASE_URL="http://127.0.0.1:9/v1",  # never called: no worker runs
            LONGHAUL_SYNC_WAIT_SECONDS="3600",
            LONGHAUL_RATE_LIMIT_PER_SECOND="0",  # one key sends every request
            PYTHONUNBUFFERED="1",
        )
        ports = {"bare": infra.free_port(), "longhaul": infra.free_port()}
        work = Path(tmp)
        cmds = {
            "bare": [sys.executable, "-m", "bench.bare_wait", str(ports["bare"])],
            "longhaul": [
                sys.executable,
                "-m",
                "longhaul.cli.main",
                "api",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["longhaul"]),
            ],
        }
        logs = {"bare": work / "bare.log", "longhaul": work / "api.log"}
        procs = {
            name: start(cmd, {**env, "PYTHONPATH": str(ROOT)}, logs[name], work)
            for name, cmd in cmds.items()
        }
        held_sql = {
            "longhaul": "SELECT count(*) FROM jobs WHERE status = 'queued'",
            "bare": "SELECT count(*) FROM bare_jobs",
        }
        headers = {"longhaul": {"Authorization": f"Bearer {key}"}, "bare": {}}
        results = []
        try:
            for name, proc in procs.items():
                wait_http(f"http://127.0.0.1:{ports[name]}/openapi.json", _Named(name, proc, work))
            time.sleep(2.0)
            for name in ("bare", "longhaul"):
                results.append(
                    measure(
                        name,
                        ports[name],
                        headers[name],
                        procs[name].pid,
                        dsn,
                        args,
                        held_sql[name],
                    )
                )
        finally:
            for proc in procs.values():
                stop(proc)
            print(f"tracebacks in the API log: {(work / 'api.log').read_text().count('Traceback')}")
    base, ours = results
    for key_ in ("rss_per_request_kb", "cpu_percent_waiting"):
        ratio = ours[key_] / base[key_] if base[key_] else float("inf")
        print(f"{key_}: Longhaul {ours[key_]} / bare {base[key_]} = {ratio:.2f}x")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

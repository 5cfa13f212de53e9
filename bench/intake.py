"""Intake under load: creates/s, p50/p99 and stalls of Longhaul's real API process against a bare
FastAPI endpoint doing one INSERT and one LPUSH (``bench/bare_intake.py``), same server settings,
same PostgreSQL and Redis, measured in the same run; then again once the tenant has a monthly
budget and 200,000 finished jobs (two ledger lines each) of history this month.

    .venv/bin/python -m bench.intake                       # 16, 64, 256 concurrent; 8 s each
    .venv/bin/python -m bench.intake --levels 16 --seconds 5 --history 0
    .venv/bin/python -m bench.intake --levels 16 --rounds 6 --history 0   # alternating, averaged
    .venv/bin/python -m bench.intake --api-src /path/to/other/checkout   # "before" figures

Uses LONGHAUL_TEST_DATABASE_URL (a fresh database on that server per run) and
LONGHAUL_TEST_REDIS_URL when set, else an embedded PostgreSQL and its own redis-server. The load
generator is asyncio with one keep-alive connection per concurrent client (a few lines of raw
HTTP/1.1, so the client costs the shared CPU as little as possible).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg

from longhaul.core import migrate
from longhaul.core.auth import create_api_key
from longhaul.core.db import session_scope
from tests.support import infra
from tests.support.stack import wait_http

ROOT = Path(__file__).resolve().parents[1]
BODY = json.dumps({"model": "gpt-5.5", "input": "bench", "background": True}).encode()


@dataclass
class Run:
    server: str
    concurrency: int
    seconds: float
    done: list[tuple[float, float, int]] = field(default_factory=list)  # (at, latency, status)
    errors: int = 0

    def summary(self) -> dict[str, object]:
        ok = sorted(lat for _, lat, status in self.done if 200 <= status < 300)
        per_second = [0] * int(self.seconds)
        for at, _, status in self.done:
            if 200 <= status < 300 and int(at) < len(per_second):
                per_second[int(at)] += 1
        return {
            "server": self.server,
            "concurrency": self.concurrency,
            "creates_per_s": round(len(ok) / self.seconds, 1),
            "p50_ms": round(pct(ok, 0.50) * 1000, 1) if ok else None,
            "p99_ms": round(pct(ok, 0.99) * 1000, 1) if ok else None,
            "status_5xx": sum(1 for _, _, s in self.done if s >= 500),
            "status_503": sum(1 for _, _, s in self.done if s == 503),
            "status_500": sum(1 for _, _, s in self.done if s == 500),
            "other_non_2xx": sum(1 for _, _, s in self.done if not 200 <= s < 300 and s < 500),
            "connection_errors": self.errors,
            "stalled_seconds": sum(1 for n in per_second if n == 0),
            "min_per_second": min(per_second) if per_second else 0,
            "per_second": per_second,
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }


def pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _client(port: int, request: bytes, run: Run, start: float, end: float) -> None:
    loop = asyncio.get_running_loop()
    reader = writer = None
    while loop.time() < end:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            sent = loop.time()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            await reader.readexactly(length)
            now = loop.time()
            if start <= now < end:
                run.done.append((now - start, now - sent, status))
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError):
            run.errors += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


async def _load(port: int, headers: dict[str, str], run: Run, warmup: float) -> None:
    lines = [
        "POST /v1/responses HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(BODY)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + BODY
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup
    end = start + run.seconds
    await asyncio.gather(*(_client(port, request, run, start, end) for _ in range(run.concurrency)))


def measure(
    port: int,
    headers: dict[str, str],
    server: str,
    concurrency: int,
    seconds: float,
    warmup: float,
    pid: int,
) -> dict[str, object]:
    run = Run(server, concurrency, seconds)
    proc = psutil.Process(pid)
    cpu_before = sum(proc.cpu_times()[:2])
    asyncio.run(_load(port, headers, run, warmup))
    cpu = sum(proc.cpu_times()[:2]) - cpu_before
    summary = run.summary()
    # server CPU (user + system, warm-up included) per response: what each request costs it
    summary["server_cpu_ms_per_request"] = round(cpu * 1000 / max(len(run.done), 1), 2)
    print(json.dumps({k: v for k, v in summary.items() if k != "per_second"}), flush=True)
    return summary


def add_history(dsn: str, tenant_id: str, jobs: int) -> None:
    """``jobs`` finished jobs of this month with two priced ledger lines each, the rollup in
    step (as finalize would have left it), and a monthly budget far from reached."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO jobs (id, tenant_id, status, model, request_body, request_hash,
                possibly_duplicated, submit_attempts, poll_count, deadline_at, state_history,
                created_at, updated_at, finished_at, metadata)
            SELECT 'resp_lh_hist' || lpad(g::text, 10, '0'), %(t)s, 'completed', 'gpt-5.5',
                '{"model": "gpt-5.5", "input": "history"}', '', false, 1, 4, now(), '[]', at, at,
                at, jsonb_build_object('batch', (g %% 100)::text)
            FROM (SELECT g, date_trunc('month', now())
                        + (now() - date_trunc('month', now())) * (g::float8 / %(n)s) AS at
                  FROM generate_series(1, %(n)s) g) s
            """,
            {"t": tenant_id, "n": jobs},
        )
        for item, kind, qty, amount in (
            ("tokens:input_tokens", "input_tokens", 1000, "0.00125"),
            ("tokens:output_tokens", "output_tokens", 200, "0.002"),
        ):
            conn.execute(
                """
                INSERT INTO ledger_lines (job_id, tenant_id, item, kind, model, quantity, unit,
                    per, unit_price, amount, currency, status, priced_at, details, created_at)
                SELECT id, tenant_id, %(item)s, %(kind)s, model, %(qty)s, 'token', 1000000,
                    1.25, %(amount)s, 'USD', 'priced', created_at, '{}', finished_at
                FROM jobs WHERE tenant_id = %(t)s AND id LIKE 'resp_lh_hist%%'
                """,
                {"t": tenant_id, "item": item, "kind": kind, "qty": qty, "amount": amount},
            )
        conn.execute(
            """
            INSERT INTO tenant_month_spend (tenant_id, month, amount)
            SELECT tenant_id, date_trunc('month', created_at AT TIME ZONE 'UTC')::date,
                   sum(amount)
            FROM ledger_lines WHERE tenant_id = %(t)s AND amount IS NOT NULL GROUP BY 1, 2
            ON CONFLICT (tenant_id, month) DO UPDATE SET amount = excluded.amount
            """,
            {"t": tenant_id},
        )
        conn.execute(
            "UPDATE tenants SET monthly_budget_usd = 1000000 WHERE id = %(t)s", {"t": tenant_id}
        )
        conn.execute("VACUUM ANALYZE jobs")
        conn.execute("VACUUM ANALYZE ledger_lines")


def start(cmd: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=cwd,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--levels", default="16,64,256")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--history", type=int, default=200_000, help="0 skips the second phase")
    parser.add_argument(
        "--rounds", type=int, default=1, help="measurements per server and level, alternating"
    )
    parser.add_argument("--threads", type=int, help="LONGHAUL_API_THREADS for both servers")
    parser.add_argument("--api-src", type=Path, help="run the API from this source tree")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]

    with (
        infra.postgres_server() as pg,
        infra.fresh_database(pg) as db_url,
        infra.redis_server(require_real=True) as redis_url,
        tempfile.TemporaryDirectory(prefix="longhaul-bench-intake-") as tmp,
    ):
        migrate.upgrade(db_url)
        with session_scope(db_url) as session:
            key = create_api_key(session, tenant_name="bench")
        dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT id FROM tenants WHERE name = 'bench'").fetchone()
            assert row is not None
            tenant_id = str(row[0])
        env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAUL_")}
        env.update(
            LONGHAUL_DATABASE_URL=db_url,
            LONGHAUL_REDIS_URL=redis_url,
            LONGHAUL_OPENAI_BASE_URL="http://127.0.0.1:9/v1",  # never called: no worker runs
            LONGHAUL_RATE_LIMIT_PER_SECOND="0",  # one key sends everything
            PYTHONUNBUFFERED="1",
        )
        if args.threads:
            env["LONGHAUL_API_THREADS"] = str(args.threads)
        api_env = dict(env)
        if args.api_src:
            api_env["PYTHONPATH"] = str(args.api_src.resolve())
        ports = {"bare": infra.free_port(), "longhaul": infra.free_port()}
        work = Path(tmp)
        procs = {
            "bare": start(
                [sys.executable, "-m", "bench.bare_intake", str(ports["bare"])],
                {**env, "PYTHONPATH": str(ROOT)},
                work / "bare.log",
                work,
            ),
            "longhaul": start(
                [
                    sys.executable,
                    "-m",
                    "longhaul.cli.main",
                    "api",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(ports["longhaul"]),
                ],
                api_env,
                work / "api.log",
                work,
            ),
        }
        headers = {"longhaul": {"Authorization": f"Bearer {key}"}, "bare": {}}
        results: list[dict[str, object]] = []
        try:
            for name, proc in procs.items():
                wait_http(f"http://127.0.0.1:{ports[name]}/openapi.json", _Named(name, proc, work))
            phases = [("no history", 0)] + ([("history", args.history)] if args.history else [])
            for phase, history in phases:
                if history:
                    began = time.monotonic()
                    add_history(dsn, tenant_id, history)
                    print(
                        f"history: {history} jobs in {time.monotonic() - began:.0f} s", flush=True
                    )
                for level in levels:
                    for round_no in range(args.rounds):  # the order alternates by round
                        order = ("bare", "longhaul") if round_no % 2 == 0 else ("longhaul", "bare")
                        for name in order:
                            summary = measure(
                                ports[name],
                                headers[name],
                                name,
                                level,
                                args.seconds,
                                args.warmup,
                                procs[name].pid,
                            )
                            results.append({"phase": phase, "round": round_no + 1, **summary})
        finally:
            for proc in procs.values():
                stop(proc)
            errors = (work / "api.log").read_text().count("Traceback")
            print(f"tracebacks in the API log: {errors}")
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


@dataclass
class _Named:  # what wait_http needs of a process
    name: str
    popen: subprocess.Popen[bytes]
    work: Path

    @property
    def log(self) -> Path:
        return self.work / ("api.log" if self.name == "longhaul" else "bare.log")


def report(results: list[dict[str, object]]) -> None:
    """Per phase and level, each server's figures averaged over the rounds; the ratio is of the
    summed rates (with the per-round ratios' range when there are several rounds)."""

    def of(phase: object, server: str, level: object) -> list[dict[str, Any]]:
        return [
            r
            for r in results
            if r["phase"] == phase and r["server"] == server and r["concurrency"] == level
        ]

    def mean(rows: list[dict[str, Any]], key: str) -> float:
        return sum(float(r[key]) for r in rows) / len(rows)

    print(
        "\nphase | conc | rounds | bare/s | longhaul/s | ratio (per round) | bare p50/p99 ms "
        "| longhaul p50/p99 ms | 5xx (503) | stalled s | load"
    )
    rates: dict[tuple[object, object], float] = {}
    for phase, level in dict.fromkeys((r["phase"], r["concurrency"]) for r in results):
        bare, ours = of(phase, "bare", level), of(phase, "longhaul", level)
        ratio = mean(ours, "creates_per_s") / max(mean(bare, "creates_per_s"), 1e-9)
        rates[(phase, level)] = mean(ours, "creates_per_s")
        per_round = [
            float(o["creates_per_s"]) / max(float(b["creates_per_s"]), 1e-9)
            for b, o in zip(bare, ours, strict=True)
        ]
        spread = f" ({min(per_round):.2f}-{max(per_round):.2f})" if len(per_round) > 1 else ""
        print(
            f"{phase} | {level} | {len(ours)} | {mean(bare, 'creates_per_s'):.1f} "
            f"| {mean(ours, 'creates_per_s'):.1f} | {ratio:.2f}{spread} "
            f"| {mean(bare, 'p50_ms'):.1f}/{mean(bare, 'p99_ms'):.1f} "
            f"| {mean(ours, 'p50_ms'):.1f}/{mean(ours, 'p99_ms'):.1f} "
            f"| {sum(int(r['status_5xx']) for r in ours)} "
            f"({sum(int(r['status_503']) for r in ours)}) "
            f"| {sum(int(r['stalled_seconds']) for r in ours)} "
            f"| {max(float(r['load_avg_1m']) for r in ours)}"
        )
    for (phase, level), rate in rates.items():
        if phase == "history" and ("no history", level) in rates:
            change = rate / max(rates[("no history", level)], 1e-9)
            print(f"history vs none at {level}: {change:.2f}x")
    print(f"load average now: {os.getloadavg()}")


if __name__ == "__main__":
    main()

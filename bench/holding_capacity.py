"""Holding capacity: N long jobs in flight on one worker with its default concurrency.

The jobs are accepted as the intake does (rows inserted, due at once, all together: the sweep
submits them in batches);
the simulator (its own process) takes ``--seconds`` per job. Production scheduling defaults.
Reported: all completed or not, wall time, upstream GETs per job, poll lateness (each interval
between two GETs of a job over the interval its schedule asked for: 1.0 = on time), completion
lag (upstream finished -> Longhaul ``completed``), the peak total RSS of every process of the
stack (API, worker and its children, beat, Flower, simulator, redis-server; PostgreSQL backends
reported apart), peak queue depths, and job states every ``--sample`` seconds on stderr.

    .venv/bin/python -m bench.holding_capacity --jobs 10000 --seconds 600
    .venv/bin/python -m bench.holding_capacity --jobs 30000 --seconds 600      # 3x overload
    .venv/bin/python -m bench.holding_capacity --jobs 500 --seconds 60 --webhooks

Uses LONGHAUL_TEST_DATABASE_URL / LONGHAUL_TEST_REDIS_URL when set, else starts its own.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psutil
import redis
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Engine

from longhaul.core import migrate
from longhaul.core.config import Settings
from longhaul.core.ids import new_job_id
from longhaul.core.models import Job, Tenant, utcnow
from tests.support import infra
from tests.support.stack import FAST, Stack, base_env, wait_for

QUEUES = ("submit", "poll", "finalize", "maintenance", "webhooks")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def tree_rss(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def redis_pid(url: str) -> int | None:
    return int(redis.Redis.from_url(url).info("server")["process_id"])


def pg_backends_rss(engine: Engine) -> int:
    with engine.connect() as db:
        pids = db.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        total = 0
        for pid in pids:
            # USS: a backend's own pages (shared buffers are shared by every backend)
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(pid).memory_full_info().uss
    return total


def start_simulator(port: int, seconds: float, webhook: tuple[str, str] | None, log: Path) -> Any:
    args = [sys.executable, "-m", "longhaul.simulator", "--port", str(port),
            "--queued-seconds", "0.5", "--run-seconds", str(seconds)]  # fmt: skip
    if webhook:
        args += ["--webhook-url", webhook[0], "--webhook-secret", webhook[1]]
    return subprocess.Popen(
        args, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def add_jobs(engine: Engine, tenant_id: str, n: int, due_in: float) -> list[str]:
    """The rows the intake writes (``queued``; the intake's are due at once, ``due_in`` 0),
    1,000 per statement."""
    ids = []
    for start in range(0, n, 1000):
        now = utcnow()
        rows = [
            dict(
                id=new_job_id(),
                tenant_id=tenant_id,
                status="queued",
                model="gpt-5.5",
                request_body={"model": "gpt-5.5", "input": f"job {i}"},
                request_hash="0" * 64,
                deadline_at=now + timedelta(hours=6),
                next_poll_at=now + timedelta(seconds=due_in),
                state_history=[{"status": "queued", "at": now.isoformat()}],
                possibly_duplicated=False,
                submit_attempts=0,
                poll_count=0,
                created_at=now,
                updated_at=now,
            )
            for i in range(start, min(n, start + 1000))
        ]
        with engine.begin() as db:
            db.execute(insert(Job), rows)
        ids += [r["id"] for r in rows]
    return ids


class Monitor(threading.Thread):
    """Samples RSS, queue depths and job states until stopped."""

    def __init__(self, engine: Engine, redis_url: str, pids: dict[str, int], every: float):
        super().__init__(daemon=True)
        self.engine, self.r, self.pids, self.every = (
            engine,
            redis.Redis.from_url(redis_url),
            pids,
            every,
        )
        self.stop = threading.Event()
        self.peak_rss = 0
        self.peak_parts: dict[str, int] = {}
        self.peak_pg = 0
        self.peak_queue = dict.fromkeys(QUEUES, 0)
        self.started = time.monotonic()

    def sample(self) -> dict[str, Any]:
        parts = {name: tree_rss(pid) for name, pid in self.pids.items()}
        total = sum(parts.values())
        if total > self.peak_rss:
            self.peak_rss, self.peak_parts = total, parts
        self.peak_pg = max(self.peak_pg, pg_backends_rss(self.engine))
        depths = {q: int(self.r.llen(q)) for q in QUEUES}
        for q, d in depths.items():
            self.peak_queue[q] = max(self.peak_queue[q], d)
        with self.engine.connect() as db:
            states = dict(
                db.execute(text("SELECT status, count(*) FROM jobs GROUP BY status")).all()
            )
        return {
            "t": round(time.monotonic() - self.started),
            "rss_mb": round(total / 2**20),
            "queues": depths,
            "jobs": states,
            "load": load(),
        }

    def run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                print(json.dumps(self.sample()), file=sys.stderr, flush=True)
            except Exception as exc:  # a process that just exited; keep sampling
                print(f"sample failed: {exc}", file=sys.stderr)


def analyse(
    timeline: dict[str, Any], finished: dict[str, float], s: Settings, webhooks: bool
) -> dict[str, Any]:
    gets: list[int] = []
    ratios: list[float] = []
    lag: list[float] = []
    for rid, info in timeline.items():
        times = [info["created"], *info["retrieves"]]
        gets.append(len(info["retrieves"]))
        for k in range(1, len(times)):
            if webhooks:
                expected = s.poll_initial_seconds if k == 1 else s.poll_webhook_seconds
            else:
                expected = min(
                    s.poll_initial_seconds * s.poll_backoff_factor ** (k - 1), s.poll_max_seconds
                )
            ratio = (times[k] - times[k - 1]) / expected
            # With webhooks the last GET is the wake-up's, early by design: not a schedule.
            if not (webhooks and k == len(times) - 1):
                ratios.append(ratio)
        if rid in finished and info["terminal_at"]:
            lag.append(finished[rid] - info["terminal_at"])
    return {
        "upstream_gets_per_job": {
            "mean": round(statistics.mean(gets), 2),
            "p50": pct(gets, 0.5),
            "max": max(gets),
        },
        "poll_interval_over_schedule": {
            "p50": round(pct(ratios, 0.5), 2),
            "p99": round(pct(ratios, 0.99), 2),
            "max": round(max(ratios), 2) if ratios else None,
        },
        "completion_lag_s": {
            "p50": round(pct(lag, 0.5), 2),
            "p99": round(pct(lag, 0.99), 2),
            "max": round(max(lag), 2) if lag else None,
        },
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with (
        infra.postgres_server() as pg,
        infra.fresh_database(pg) as db_url,
        infra.redis_server() as redis_url,
        tempfile.TemporaryDirectory(prefix="longhaul-bench-") as tmp,
    ):
        migrate.upgrade(db_url)
        redis.Redis.from_url(redis_url).flushdb()
        engine = create_engine(db_url, pool_size=3)
        tenant_id = f"ten_{uuid.uuid4().hex[:12]}"
        with engine.begin() as db:
            db.execute(insert(Tenant).values(id=tenant_id, name="bench"))
        sim_port = infra.free_port()
        sim_url = f"http://127.0.0.1:{sim_port}/v1"
        env = {k: v for k, v in base_env(db_url, redis_url, sim_url).items() if k not in FAST}
        secret = None
        if args.webhooks:
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
            env["LONGHAUL_OPENAI_WEBHOOK_SECRET"] = secret
        os.environ.update(LONGHAUL_REDIS_URL=redis_url, LONGHAUL_DATABASE_URL=db_url)
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        if args.webhooks:
            settings = settings.model_copy(update={"openai_webhook_secret": secret})

        stack = Stack(env=env, workdir=Path(tmp))
        sim = None
        monitor = None
        try:
            stack.start_api()
            webhook = (f"{stack.api_url}/v1/webhooks/openai", secret) if secret else None
            sim = start_simulator(sim_port, args.seconds, webhook, Path(tmp) / "sim.log")
            infra.wait_for_port("127.0.0.1", sim_port)
            stack.start_worker(concurrency=settings.worker_concurrency)
            stack.start("beat", "beat")
            flower_port = infra.free_port()
            stack.start("flower", "flower", "--port", str(flower_port))
            time.sleep(8)
            pids = {name: p.popen.pid for name, p in stack.procs.items()}
            pids["simulator"] = sim.pid
            rpid = redis_pid(redis_url)
            if rpid:
                pids["redis"] = rpid
            monitor = Monitor(engine, redis_url, pids, args.sample)
            load_before = load()
            started = time.monotonic()
            add_jobs(engine, tenant_id, args.jobs, 0)
            create_s = time.monotonic() - started
            monitor.start()

            def all_done() -> bool:
                with engine.connect() as db:
                    n = db.execute(
                        text("SELECT count(*) FROM jobs WHERE status = 'completed'")
                    ).scalar_one()
                return n == args.jobs

            timeout = args.seconds * 3 + args.jobs / 10 + 600
            completed = True
            try:
                wait_for(all_done, timeout, interval=2, what="all jobs to complete")
            except TimeoutError:
                completed = False
            wall = time.monotonic() - started
            load_after = load()
            monitor.stop.set()
            monitor.join(30)
            monitor.sample()
            timeline = httpx.get(f"http://127.0.0.1:{sim_port}/_sim/timeline", timeout=120).json()
            with engine.connect() as db:
                rows = db.execute(
                    text(
                        "SELECT upstream_response_id, extract(epoch FROM finished_at), status "
                        "FROM jobs"
                    )
                ).all()
            finished = {r[0]: float(r[1]) for r in rows if r[0] and r[1] is not None}
            by_status: dict[str, int] = {}
            for r in rows:
                by_status[r[2]] = by_status.get(r[2], 0) + 1
        finally:
            if monitor:
                monitor.stop.set()
            stack.stop_all()
            if sim:
                os.killpg(sim.pid, 15)
                sim.wait(20)
    return {
        "jobs": args.jobs,
        "upstream_seconds_per_job": args.seconds,
        "webhooks": bool(args.webhooks),
        "worker_concurrency": settings.worker_concurrency,
        "all_completed": completed,
        "final_states": by_status,
        "accept_and_enqueue_s": round(create_s, 1),
        "total_wall_s": round(wall, 1),
        **analyse(timeline, finished, settings, bool(args.webhooks)),
        "peak_rss_mb": round(monitor.peak_rss / 2**20) if monitor else None,
        "peak_rss_parts_mb": {k: round(v / 2**20) for k, v in monitor.peak_parts.items()}
        if monitor
        else None,
        "peak_pg_backends_uss_mb": round(monitor.peak_pg / 2**20) if monitor else None,
        "peak_queue_depth": monitor.peak_queue if monitor else None,
        "load_before": load_before,
        "load_after": load_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=600.0, help="upstream time per job")
    parser.add_argument("--webhooks", action="store_true", help="inbound OpenAI webhooks on")
    parser.add_argument("--sample", type=float, default=15.0, help="progress every N s (stderr)")
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()

"""End-to-end pipeline throughput: N jobs, already accepted (rows inserted as the intake does),
from the moment they are due (Longhaul: its sweep submits them; the chain: its first message)
to the last ``completed``, through Longhaul's worker (one worker,
concurrency 2, beat running) against a raw Celery chain submit -> poll -> finalize
(``bench/raw_chain.py``, one worker, concurrency 2) on the same PostgreSQL, Redis and
zero-latency simulator. Runs alternate; the ratio is Longhaul's jobs/s over the chain's.

    .venv/bin/python -m bench.e2e_throughput --jobs 500 --pairs 3

Uses LONGHAUL_TEST_DATABASE_URL / LONGHAUL_TEST_REDIS_URL when set, else starts its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis
from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.engine import Engine

from bench.holding_capacity import add_jobs
from longhaul.core import migrate
from longhaul.core.models import Job, Tenant
from longhaul.simulator import start_simulator
from tests.support import infra
from tests.support.stack import Stack, base_env, wait_for

ROOT = Path(__file__).resolve().parent.parent


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def commits(engine: Engine) -> int:
    with engine.connect() as db:
        db.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int(
            db.execute(
                text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        )


def make_due(engine: Engine, ids: list[str]) -> None:
    """What the intake leaves for the sweep: rows due now."""
    with engine.begin() as db:
        db.execute(update(Job).where(Job.id.in_(ids)).values(next_poll_at=func.now()))


def run_one(engine: Engine, tenant_id: str, n: int, send: object, lease: int) -> dict[str, float]:
    ids = add_jobs(engine, tenant_id, n, lease)  # not due yet: neither side sees them
    before = commits(engine)
    started = time.monotonic()
    send(ids)  # type: ignore[operator]

    def done() -> bool:
        with engine.connect() as db:
            count = db.execute(
                select(text("count(*)"))
                .select_from(Job)
                .where(Job.id.in_(ids), Job.status == "completed")
            ).scalar_one()
        return count == n

    wait_for(done, 600, interval=0.1, what="all jobs completed")
    wall = time.monotonic() - started
    time.sleep(1.0)  # statistics are flushed to pg_stat_database about once a second
    return {
        "wall_s": round(wall, 2),
        "jobs_per_s": round(n / wall, 1),
        "commits_per_job": round((commits(engine) - before) / n, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--logs", help="copy the workers' logs to this folder at the end")
    args = parser.parse_args()
    with (
        infra.postgres_server() as pg,
        infra.fresh_database(pg) as db_url,
        infra.redis_server() as redis_url,
        start_simulator(queued_seconds=0, run_seconds=0) as sim,
        tempfile.TemporaryDirectory(prefix="longhaul-bench-") as tmp,
    ):
        migrate.upgrade(db_url)
        redis.Redis.from_url(redis_url).flushdb()
        engine = create_engine(db_url)
        tenant_id = f"ten_{uuid.uuid4().hex[:12]}"
        with engine.begin() as db:
            db.execute(insert(Tenant).values(id=tenant_id, name="bench"))
        env = base_env(db_url, redis_url, sim.url)
        # Production scheduling defaults, not the tests' fast ones.
        env = {k: v for k, v in env.items() if k not in _FAST_KEYS}
        lease = 60
        os.environ.update(
            LONGHAUL_REDIS_URL=redis_url,
            LONGHAUL_DATABASE_URL=db_url,
            RAW_REDIS_URL=redis_url,  # read when bench.raw_chain is imported, below
        )
        stack = Stack(env=env, workdir=Path(tmp))
        raw_env = {
            **env,
            "RAW_DATABASE_URL": db_url,
            "RAW_REDIS_URL": redis_url,
            "RAW_UPSTREAM": sim.url,
        }
        raw_log = Path(tmp) / "raw.log"
        raw = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "bench.raw_chain", "worker", "-Q", "raw",
             "-c", "2", "--loglevel=INFO", "--hostname", f"raw-{os.getpid()}@%h"],
            env=raw_env, cwd=ROOT, stdout=raw_log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        from bench import raw_chain

        results: list[dict[str, object]] = []
        try:
            stack.start_worker(concurrency=2)
            stack.start("beat", "beat")
            time.sleep(8)  # both workers up and their pool children warm
            for pair in range(args.pairs):
                load_before = load()
                runs = [
                    ("longhaul", lambda ids: make_due(engine, ids)),
                    ("raw_chain", raw_chain.send_all),
                ]
                if pair % 2:
                    runs.reverse()
                out: dict[str, object] = {"pair": pair + 1, "load_before": load_before}
                for name, send in runs:
                    out[name] = run_one(engine, tenant_id, args.jobs, send, lease)
                lh, rc = out["longhaul"], out["raw_chain"]
                out["ratio"] = round(lh["jobs_per_s"] / rc["jobs_per_s"], 2)  # type: ignore[index]
                out["load_after"] = load()
                print(json.dumps(out), flush=True)
                results.append(out)
        finally:
            stack.stop_all()
            os.killpg(raw.pid, 15)
            raw.wait(20)
            if args.logs:
                shutil.copytree(tmp, args.logs, dirs_exist_ok=True)
        ratios = [float(r["ratio"]) for r in results]  # type: ignore[arg-type]
        print(
            json.dumps({"jobs": args.jobs, "ratios": ratios, "median": statistics.median(ratios)})
        )


_FAST_KEYS = {
    "LONGHAUL_POLL_INITIAL_SECONDS",
    "LONGHAUL_POLL_MAX_SECONDS",
    "LONGHAUL_POLL_BACKOFF_FACTOR",
    "LONGHAUL_SWEEP_INTERVAL_SECONDS",
    "LONGHAUL_RECONCILE_INTERVAL_SECONDS",
    "LONGHAUL_LEASE_SECONDS",
    "LONGHAUL_RETRY_BASE_SECONDS",
    "LONGHAUL_RETRY_MAX_SECONDS",
}


if __name__ == "__main__":
    main()

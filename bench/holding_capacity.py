"""Holding capacity: N jobs submitted at once, the upstream taking S seconds each, one worker with
concurrency 2. Reports the longest single task runtime, upstream GETs per job and the delay from
upstream completion to ``completed`` in Longhaul.

    .venv/bin/python -m bench.holding_capacity --jobs 200 --seconds 60

Uses LONGHAUL_TEST_DATABASE_URL / LONGHAUL_TEST_REDIS_URL when set, else starts its own.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx2 as httpx
import openai
import redis

from longhaul.core import migrate
from longhaul.core.auth import create_api_key
from longhaul.core.db import session_scope
from longhaul.simulator import start_simulator
from tests.support import infra
from tests.support.stack import Stack, base_env, wait_for


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(jobs: int, seconds: float, poll_max: float) -> dict[str, object]:
    with (
        infra.postgres_server() as pg,
        infra.fresh_database(pg) as db_url,
        infra.redis_server() as redis_url,
        start_simulator(queued_seconds=0.5, run_seconds=seconds) as sim,
        tempfile.TemporaryDirectory(prefix="longhaul-bench-") as tmp,
    ):
        migrate.upgrade(db_url)
        redis.Redis.from_url(redis_url).flushdb()
        with session_scope(db_url) as session:
            key = create_api_key(session, tenant_name="bench")
        env = base_env(db_url, redis_url, sim.url)
        # Production polling defaults (1 s first, x1.5, capped) rather than the tests' fast ones.
        env.update(
            LONGHAUL_POLL_INITIAL_SECONDS="1",
            LONGHAUL_POLL_BACKOFF_FACTOR="1.5",
            LONGHAUL_POLL_MAX_SECONDS=str(poll_max),
            LONGHAUL_SWEEP_INTERVAL_SECONDS="1",
            LONGHAUL_LEASE_SECONDS="60",
        )
        stack = Stack(env=env, workdir=Path(tmp))
        try:
            stack.start_api()
            stack.start_worker(concurrency=2)
            stack.start("beat", "beat")
            client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=key, max_retries=2)
            started = time.monotonic()
            with ThreadPoolExecutor(32) as pool:
                list(
                    pool.map(
                        lambda i: (
                            client.responses.create(
                                model="gpt-5.5", input=f"job {i}", background=True
                            ).id
                        ),
                        range(jobs),
                    )
                )
            submit_s = time.monotonic() - started
            headers = {"Authorization": f"Bearer {key}"}

            def views() -> list[dict]:
                out, after = [], None
                while True:
                    params = {"limit": 100, **({"after": after} if after else {})}
                    page = httpx.get(
                        f"{stack.api_url}/v1/jobs", params=params, headers=headers, timeout=30
                    ).json()
                    out += page["data"]
                    if not page["has_more"]:
                        return out
                    after = page["last_id"]

            def all_done() -> list[dict] | None:
                current = views()
                finished = [j for j in current if j["status"] == "completed"]
                return current if len(finished) == jobs else None

            done = wait_for(all_done, seconds * 4 + 120, interval=2, what="all jobs to complete")
            wall = time.monotonic() - started
            stats = httpx.get(sim.url.removesuffix("/v1") + "/_sim/stats").json()
            gets, lag = [], []
            for j in done:
                full = httpx.get(f"{stack.api_url}/v1/jobs/{j['id']}", headers=headers).json()
                up = full["upstream_response_id"]
                gets.append(stats["responses"][up].get("retrieve", 0))
                raw = httpx.get(sim.url.removesuffix("/v1") + f"/_sim/responses/{up}").json()
                lag.append(
                    datetime.fromisoformat(full["finished_at"]).timestamp() - raw["finished_at"]
                )
            runtimes = [
                float(m)
                for m in re.findall(
                    r"succeeded in ([0-9.]+)s", stack.procs["worker"].log.read_text()
                )
            ]
        finally:
            stack.stop_all()
    return {
        "jobs": jobs,
        "upstream_seconds_per_job": seconds,
        "poll_max_seconds": poll_max,
        "all_completed": len(done),
        "submit_wall_s": round(submit_s, 2),
        "total_wall_s": round(wall, 1),
        "tasks_run": len(runtimes),
        "longest_task_s": round(max(runtimes), 3),
        "task_p99_s": round(pct(runtimes, 0.99), 3),
        "upstream_gets_per_job": {"mean": round(statistics.mean(gets), 2), "max": max(gets)},
        "completion_lag_s": {
            "p50": round(pct(lag, 0.5), 2),
            "p99": round(pct(lag, 0.99), 2),
            "max": round(max(lag), 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--poll-max", type=float, default=30.0)
    args = parser.parse_args()
    print(json.dumps(run(args.jobs, args.seconds, args.poll_max), indent=2))


if __name__ == "__main__":
    main()

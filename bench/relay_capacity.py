"""Relay capacity: one ``longhaul relay`` process holding N upstream streams, S subscribers
following jobs through the API. Reports the relay's RSS (idle baseline and loaded) and CPU,
events stored per second, and upstream-event → subscriber latency, beside the same latency for
clients reading the simulator directly (the baseline, measured in the same run).

    .venv/bin/python -m bench.relay_capacity --streams 2000 --subscribers 200 --seconds 30

The simulator runs in its own process; event times come from its ``/_sim/responses/{id}/events``
timeline, mapped to Longhaul's numbers through ``job_events.upstream_sequence_number``.
Uses LONGHAUL_TEST_DATABASE_URL / LONGHAUL_TEST_REDIS_URL when set, else starts its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import redis
from openai._streaming import SSEDecoder
from sqlalchemy import func, select, text

from longhaul.core import migrate
from longhaul.core.auth import create_api_key
from longhaul.core.db import session_scope
from longhaul.core.models import ApiKey
from longhaul.core.models.streams import JobEvent, JobStream
from tests.support import infra
from tests.support.factories import add_job
from tests.support.stack import Stack, base_env, wait_for


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def proc_stats(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
        "hwm_mb": int(fields["VmHWM"].split()[0]) / 1024,
        "cpu_s": (int(stat[11]) + int(stat[12])) / ticks,
    }


def start_simulator_process(run_seconds: float) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "longhaul.simulator", "--port", "0", "--queued-seconds", "1",
         "--run-seconds", str(run_seconds)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    url = json.loads(proc.stdout.readline())["url"]
    return proc, url


async def follow(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], until: float
) -> list[tuple[int, float]]:
    """(sequence_number, receive time) of each event until ``until``."""
    got: list[tuple[int, float]] = []
    try:
        async with (
            asyncio.timeout(max(0.1, until - time.time())),
            client.stream("GET", url, headers=headers, timeout=None) as reply,
        ):

            async def chunks() -> Any:
                async for chunk in reply.aiter_bytes():
                    yield chunk

            async for sse in SSEDecoder().aiter_bytes(chunks()):
                if sse.data:
                    got.append((json.loads(sse.data)["sequence_number"], time.time()))
    except (TimeoutError, httpx.HTTPError) as exc:
        if not isinstance(exc, TimeoutError):
            print(f"subscriber {url}: {exc!r}", file=sys.stderr)
    return got


async def subscribe_all(
    api: str, sim: str, key: str, pairs: list[tuple[str, str]], seconds: float
) -> tuple[dict[str, list[tuple[int, float]]], dict[str, list[tuple[int, float]]], float]:
    until = time.time() + seconds
    limits = httpx.Limits(max_connections=None)
    async with httpx.AsyncClient(limits=limits) as client:
        auth = {"Authorization": f"Bearer {key}"}
        started = time.time()
        ours = [
            follow(client, f"{api}/v1/responses/{j}?stream=true", auth, until) for j, _ in pairs
        ]
        direct = [
            follow(client, f"{sim}/responses/{u}?stream=true&include_obfuscation=false",
                   {"Authorization": "Bearer sk-bench"}, until)
            for _, u in pairs
        ]  # fmt: skip
        results = await asyncio.gather(*ours, *direct, return_exceptions=True)
    got = [r if isinstance(r, list) else [] for r in results]
    n = len(pairs)
    return (
        {pairs[i][0]: got[i] for i in range(n)},
        {pairs[i][1]: got[n + i] for i in range(n)},
        started,
    )


def run(streams: int, subscribers: int, seconds: float) -> dict[str, Any]:
    with contextlib.ExitStack() as infra_stack:
        server = os.environ.get("LONGHAUL_TEST_DATABASE_URL") or infra_stack.enter_context(
            infra.postgres_server()
        )
        db_url = infra_stack.enter_context(infra.fresh_database(server))
        redis_url = os.environ.get("LONGHAUL_TEST_REDIS_URL") or infra_stack.enter_context(
            infra.redis_server()
        )
        tmp = infra_stack.enter_context(tempfile.TemporaryDirectory(prefix="longhaul-bench-"))
        migrate.upgrade(db_url)
        redis.Redis.from_url(redis_url).flushdb()
        sim_proc, sim_url = start_simulator_process(run_seconds=900)  # outlives the ramp
        env = base_env(db_url, redis_url, sim_url)
        env.update(
            LONGHAUL_STREAM_ALL="true",
            LONGHAUL_RELAY_MAX_STREAMS=str(streams + 100),
            LONGHAUL_DATABASE_POOL_SIZE="20",
        )
        stack = Stack(env=env, workdir=Path(tmp))
        try:
            with session_scope(db_url) as session:
                key = create_api_key(session, tenant_name="bench")
                tenant_id = session.execute(select(ApiKey.tenant_id)).scalars().first()
            stack.start_api()
            relay = stack.start("relay", "relay")
            time.sleep(5)
            idle = proc_stats(relay.popen.pid)
            with session_scope(db_url) as session:
                ids = [
                    add_job(
                        session,
                        str(tenant_id),
                        commit=False,
                        request_body={"model": "gpt-5.5", "input": f"job {n}", "stream": True},
                    ).id
                    for n in range(streams)
                ]
            created = time.monotonic()

            def running() -> bool:
                with session_scope(db_url) as session:
                    n = session.execute(
                        text("SELECT count(*) FROM jobs WHERE status = 'in_progress'")
                    ).scalar_one()
                return int(n) >= streams

            wait_for(running, timeout=600, interval=2, what="every job created upstream")
            ramp_s = time.monotonic() - created
            with session_scope(db_url) as session:
                rows = session.execute(
                    text("SELECT id, upstream_response_id FROM jobs WHERE id = ANY(:ids)"),
                    {"ids": ids[:subscribers]},
                ).all()
            pairs = [(r[0], r[1]) for r in rows]
            before = proc_stats(relay.popen.pid)
            window_start = time.time()
            with session_scope(db_url) as session:
                events_before = session.execute(
                    select(func.count()).select_from(JobEvent)
                ).scalar_one()
            ours, direct, sub_started = asyncio.run(
                subscribe_all(stack.api_url, sim_url, key, pairs, seconds)
            )
            window = time.time() - window_start
            after = proc_stats(relay.popen.pid)
            with session_scope(db_url) as session:
                events_after = session.execute(
                    select(func.count()).select_from(JobEvent)
                ).scalar_one()
                live = session.execute(
                    select(func.count()).select_from(JobStream).where(JobStream.status == "live")
                ).scalar_one()
                mapping = {
                    (r[0], r[1]): r[2]
                    for r in session.execute(
                        select(
                            JobEvent.job_id,
                            JobEvent.sequence_number,
                            JobEvent.upstream_sequence_number,
                        ).where(JobEvent.job_id.in_([p[0] for p in pairs]))
                    )
                }
            root = sim_url.removesuffix("/v1")
            times = {
                u: {
                    t["sequence_number"]: t["at"]
                    for t in httpx.get(f"{root}/_sim/responses/{u}/events").json()["data"]
                }
                for _, u in pairs
            }
            ours_lat = [
                recv - times[u][up]
                for j, u in pairs
                for seq, recv in ours[j]
                if (up := mapping.get((j, seq))) is not None
                and up in times[u]
                and times[u][up] > sub_started + 1
            ]
            direct_lat = [
                recv - times[u][seq]
                for _, u in pairs
                for seq, recv in direct[u]
                if seq in times[u] and times[u][seq] > sub_started + 1
            ]
        finally:
            stack.stop_all()
            sim_proc.terminate()
            sim_proc.wait(10)
    ms = 1000.0
    return {
        "streams": streams,
        "subscribers": subscribers,
        "window_s": round(window, 1),
        "ramp_s_all_created_upstream": round(ramp_s, 1),
        "streams_live_at_end": int(live),
        "relay_rss_mb": {
            "idle": round(idle["rss_mb"], 1),
            "loaded": round(after["rss_mb"], 1),
            "peak": round(after["hwm_mb"], 1),
        },
        "relay_cpu_percent": round(100 * (after["cpu_s"] - before["cpu_s"]) / window, 1),
        "events_stored_per_s": round((events_after - events_before) / window, 1),
        "latency_ms_longhaul": {
            "n": len(ours_lat),
            "p50": round(pct(ours_lat, 0.5) * ms, 1),
            "p99": round(pct(ours_lat, 0.99) * ms, 1),
        },
        "latency_ms_direct": {
            "n": len(direct_lat),
            "p50": round(pct(direct_lat, 0.5) * ms, 1),
            "p99": round(pct(direct_lat, 0.99) * ms, 1),
        },
        "p99_ratio_longhaul_vs_direct": round(
            pct(ours_lat, 0.99) / max(pct(direct_lat, 0.99), 1e-6), 2
        ),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    print(json.dumps(run(args.streams, args.subscribers, args.seconds), indent=2))


if __name__ == "__main__":
    main()

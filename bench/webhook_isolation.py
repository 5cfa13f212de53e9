"""Other jobs' latency beside receivers that hang: each job's ``created_at`` to ``finished_at``
(Longhaul's own view) for ``--jobs`` jobs with no webhook, submitted ``--spread`` s apart, while
``--hanging`` receivers hold every POST open (the sender gives up after its read timeout, 15 s,
and retries on its schedule). Three stacks in one run, each on a fresh database:

- ``baseline``: the default stack (a jobs worker and a webhooks worker), no hanging receivers;
- ``isolated``: the same stack with the hanging receivers;
- ``shared``: one worker (2 processes) serving every queue, with the hanging receivers (what
  `longhaul up` ran before webhooks had a worker of their own).

    .venv/bin/python -m bench.webhook_isolation --jobs 30 --hanging 8

Prints one JSON object per stack (seconds) and the ratios of p50 and p99 to the baseline's.
Uses LONGHAUL_TEST_DATABASE_URL when set, else an embedded PostgreSQL; its own redis-server.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import httpx2 as httpx
import openai
import redis

from longhaul.core import migrate
from longhaul.simulator import start_simulator
from tests.support import infra
from tests.support.receivers import receivers
from tests.support.stack import running_stack, wait_for


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(pg: str, redis_url: str, sim_url: str, *, split: bool, hanging: int, jobs: int,
        spread: float) -> dict[str, Any]:  # fmt: skip
    with ExitStack() as stack:
        db_url = stack.enter_context(infra.fresh_database(pg))
        migrate.upgrade(db_url)
        redis.Redis.from_url(redis_url).flushdb()
        from longhaul.core.auth import create_api_key
        from longhaul.core.db import session_scope

        with session_scope(db_url) as session:
            key = create_api_key(session, tenant_name=f"bench-{uuid.uuid4().hex[:8]}")
        st = stack.enter_context(running_stack(db_url, redis_url, sim_url, split_workers=split))
        client = openai.OpenAI(base_url=f"{st.api_url}/v1", api_key=key, max_retries=0)
        hung = stack.enter_context(receivers(hanging, hang=True))
        for r in hung:
            client.responses.create(model="gpt-5.5", input="hook", background=True,
                                    extra_body={"webhook": {"url": r.url}})  # fmt: skip
        if hung:
            wait_for(lambda: sum(r.holding for r in hung) >= min(2, hanging), 120,
                     what="hanging POSTs")  # fmt: skip
        ids = []
        for i in range(jobs):
            ids.append(client.responses.create(model="gpt-5.5", input=f"o{i}", background=True).id)
            time.sleep(spread)
        wait_for(lambda: st.all_completed(key, ids), 600, interval=1, what="the other jobs")
        headers = {"Authorization": f"Bearer {key}"}
        latencies = []
        for job_id in ids:
            view = httpx.get(f"{st.api_url}/v1/jobs/{job_id}", headers=headers).json()
            created, finished = (_ts(view[k]) for k in ("created_at", "finished_at"))
            latencies.append(finished - created)
        return {
            "workers": "jobs + webhooks" if split else "one, every queue",
            "hanging": hanging,
            "jobs": jobs,
            "p50": round(pct(latencies, 0.5), 3),
            "p99": round(pct(latencies, 0.99), 3),
            "max": round(max(latencies), 3),
            "held_at_end": sum(r.holding for r in hung),
        }


def _ts(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--hanging", type=int, default=8)
    parser.add_argument("--spread", type=float, default=0.3)
    args = parser.parse_args()
    with (
        infra.postgres_server() as pg,
        infra.redis_server(require_real=True) as redis_url,
        start_simulator(queued_seconds=0.2, run_seconds=1.0) as sim,
    ):
        common = {"jobs": args.jobs, "spread": args.spread}
        results = {
            "baseline": run(pg, redis_url, sim.url, split=True, hanging=0, **common),
            "isolated": run(pg, redis_url, sim.url, split=True, hanging=args.hanging, **common),
            "shared": run(pg, redis_url, sim.url, split=False, hanging=args.hanging, **common),
        }
    base = results["baseline"]
    for name, r in results.items():
        r["p50_ratio"] = round(r["p50"] / base["p50"], 2)
        r["p99_ratio"] = round(r["p99"] / base["p99"], 2)
        print(json.dumps({"stack": name, **r}))


if __name__ == "__main__":
    main()

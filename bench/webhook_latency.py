"""Completion-to-caller latency: from the moment the upstream response ends (the simulator's
``finished_at``) to the moment the caller's webhook receiver gets the signed event. Measured with
inbound OpenAI webhooks on (the simulator calls ``POST /v1/webhooks/openai``, the job is polled at
once) and off (Longhaul finds out by polling).

Start its own stacks (``longhaul up --detach`` in a temp data dir, one per mode, stopped after)::

    .venv/bin/python -m bench.webhook_latency --jobs 200 --mode both

Or measure a stack that already runs (``longhaul up --detach``; the mode is whatever it has)::

    .venv/bin/python -m bench.webhook_latency --jobs 200 --data-dir .longhaul

Each job uses the simulator scenario ``--scenario`` (default ``slow:20``: 20 s in progress, long
enough for the poll interval to have backed off, which is where inbound webhooks matter). Jobs are
submitted ``--spread`` seconds apart so completions don't all land in one beat tick. Prints one
JSON object per mode (milliseconds): p50, p99, max, mean, and the part of it before Longhaul's
``finished_at`` ("detect") versus after it ("deliver").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import redis

from longhaul.core.webhooks.signing import generate_secret
from tests.support.infra import free_port


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Receiver:
    """The caller's webhook endpoint: first receive time per job id (dedupe on webhook-id)."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                now = time.time()
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    if self.headers.get("webhook-id") not in receiver.seen:
                        receiver.seen.add(self.headers.get("webhook-id", ""))
                        job_id = json.loads(body)["data"]["id"]
                        receiver.received.setdefault(job_id, now)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class QueueWatch:
    """Samples the Celery queues' lengths in Redis every 0.25 s: the worst backlog per queue
    tells whether latency was spent waiting for a free worker process."""

    QUEUES = ("submit", "poll", "finalize", "webhooks")

    def __init__(self, redis_url: str) -> None:
        self.client = redis.Redis.from_url(redis_url, socket_timeout=2)
        self.peak = dict.fromkeys(self.QUEUES, 0)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.25):
            try:
                for q in self.QUEUES:
                    self.peak[q] = max(self.peak[q], int(self.client.llen(q)))
            except redis.RedisError:
                pass

    def close(self) -> dict[str, int]:
        self.stop.set()
        self.thread.join(5)
        self.client.close()
        return self.peak


def longhaul(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "longhaul.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@contextmanager
def started_stack(inbound: bool) -> Iterator[dict[str, Any]]:
    """``longhaul up --detach`` in a temp data dir; inbound webhooks wired when ``inbound``."""
    with tempfile.TemporaryDirectory(prefix="longhaul-bench-wh-") as tmp:
        data_dir = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAUL_SIM_WEBHOOK")}
        env.pop("LONGHAUL_OPENAI_WEBHOOK_SECRET", None)
        api_port = free_port()
        env.update(LONGHAUL_DATA_DIR=str(data_dir), LONGHAUL_API_PORT=str(api_port))
        if inbound:
            secret = generate_secret()
            env.update(
                LONGHAUL_OPENAI_WEBHOOK_SECRET=secret,
                LONGHAUL_SIM_WEBHOOK_SECRET=secret,
                LONGHAUL_SIM_WEBHOOK_URL=f"http://127.0.0.1:{api_port}/v1/webhooks/openai",
            )
        else:
            env["LONGHAUL_SIM_WEBHOOK_URL"] = ""  # `longhaul up` wires them by default: opt out
        up = longhaul("up", "--detach", "--data-dir", str(data_dir), env=env)
        if up.returncode != 0:
            raise SystemExit(f"longhaul up failed:\n{up.stdout}\n{up.stderr}")
        try:
            yield json.loads(up.stdout.strip().splitlines()[-1])
        finally:
            longhaul("down", "--data-dir", str(data_dir), env=env)


def existing_stack(data_dir: str) -> dict[str, Any]:
    status = longhaul("status", "--json", "--data-dir", data_dir)
    if status.returncode != 0:
        raise SystemExit(f"no healthy stack in {data_dir}: {status.stdout}{status.stderr}")
    return dict(json.loads(status.stdout.strip().splitlines()[-1]))


def measure(
    info: dict[str, Any], *, jobs: int, scenario: str, spread: float, timeout: float
) -> dict[str, Any]:
    if not info.get("simulator"):
        raise SystemExit("this benchmark needs the simulator as upstream (for finished_at)")
    receiver = Receiver()
    watch = QueueWatch(info["redis_url"])
    load_before = round(os.getloadavg()[0], 2)
    client = openai.OpenAI(base_url=info["api"], api_key=info["api_key"], max_retries=2)
    sim_root = info["simulator"].removesuffix("/v1")
    try:
        ids = []
        for _ in range(jobs):
            created = client.responses.create(
                model="gpt-4.1-mini",
                input="Say hello",
                background=True,
                metadata={"longhaul_sim": scenario},
                extra_body={"webhook": {"url": receiver.url}},
            )
            ids.append(created.id)
            time.sleep(spread)
        deadline = time.monotonic() + timeout
        while len(receiver.received) < jobs and time.monotonic() < deadline:
            time.sleep(0.2)
        total, detect = [], []
        with httpx.Client(timeout=10) as http:
            auth = {"authorization": f"Bearer {info['api_key']}"}
            for job_id in ids:
                if job_id not in receiver.received:
                    continue
                job = http.get(f"{info['api']}/jobs/{job_id}", headers=auth).json()
                upstream = http.get(f"{sim_root}/_sim/responses/{job['upstream_response_id']}")
                finished = float(upstream.json()["finished_at"])
                total.append((receiver.received[job_id] - finished) * 1000)
                detected = datetime.fromisoformat(job["finished_at"]).timestamp()
                detect.append((detected - finished) * 1000)
            # How many of the simulator's own (inbound) webhooks reached Longhaul's API.
            counters = http.get(f"{sim_root}/_sim/stats").json().get("counters", {})
    finally:
        receiver.close()
        peak = watch.close()
    load = {
        "load1_before": load_before,
        "load1_after": round(os.getloadavg()[0], 2),
        "peak_queue": peak,
    }
    inbound = {
        "inbound_sent": counters.get("webhook_event", 0),
        "inbound_delivered": counters.get("webhook_delivered", 0),
    }
    if not total:
        return {"jobs": jobs, "received": 0, **inbound, **load}
    deliver = [t - d for t, d in zip(total, detect, strict=True)]
    return {
        "jobs": jobs,
        "received": len(total),
        "p50_ms": round(pct(total, 0.5)),
        "p99_ms": round(pct(total, 0.99)),
        "max_ms": round(max(total)),
        "mean_ms": round(sum(total) / len(total)),
        "detect_p50_ms": round(pct(detect, 0.5)),
        "detect_p99_ms": round(pct(detect, 0.99)),
        "deliver_p50_ms": round(pct(deliver, 0.5)),
        "deliver_p99_ms": round(pct(deliver, 0.99)),
        **inbound,
        **load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--mode", choices=("on", "off", "both"), default="both")
    parser.add_argument("--data-dir", help="measure the running stack of this data dir instead")
    parser.add_argument("--scenario", default="slow:20", help="simulator scenario per job")
    parser.add_argument("--spread", type=float, default=0.05, help="seconds between submits")
    parser.add_argument("--timeout", type=float, default=600.0, help="wait for the webhooks")
    args = parser.parse_args()
    kw = {"jobs": args.jobs, "scenario": args.scenario, "spread": args.spread}
    if args.data_dir:
        result = measure(existing_stack(args.data_dir), timeout=args.timeout, **kw)
        print(json.dumps({"mode": "existing", **kw, **result}), flush=True)
        return
    for mode in ("on", "off") if args.mode == "both" else (args.mode,):
        with started_stack(inbound=mode == "on") as info:
            result = measure(info, timeout=args.timeout, **kw)
        print(json.dumps({"inbound_webhooks": mode, **kw, **result}), flush=True)


if __name__ == "__main__":
    main()

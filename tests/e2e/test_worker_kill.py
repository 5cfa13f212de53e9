"""Kill the worker (SIGKILL, whole process group) while jobs are in flight, start another:
every job still completes, none is submitted twice unless flagged.

Progress is read with one `GET /v1/jobs` per second (the tenant holds only these jobs), not one
request per job five times a second: with no redis-server on PATH the broker is fakeredis, far
slower than Redis, and every cycle this test spends is one the stack cannot."""

from __future__ import annotations

import signal
import time
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.support.stack import Stack, wait_for

pytestmark = pytest.mark.e2e
JOBS = 30


def all_completed(statuses: list[str]) -> list[str] | None:
    return statuses if all(s == "completed" for s in statuses) else None


def test_sigkill_worker_mid_flight_then_restart(
    client: openai.OpenAI, stack: Stack, api_key: str, simulator: Any
) -> None:
    ids = [
        client.responses.create(
            model="gpt-5.5",
            input=f"job {i}",
            background=True,
            metadata={"longhaul_sim": f"slow:{8 + i % 5}"},
        ).id
        for i in range(JOBS)
    ]
    headers = {"Authorization": f"Bearer {api_key}"}

    def statuses() -> list[str]:
        page = httpx.get(f"{stack.api_url}/v1/jobs", params={"limit": 100}, headers=headers)
        by_id = {job["id"]: job["status"] for job in page.json()["data"]}
        return [by_id[i] for i in ids]

    wait_for(
        lambda: statuses().count("in_progress") >= JOBS // 3, 30, interval=1, what="jobs in flight"
    )
    stack.procs["worker"].kill(signal.SIGKILL)
    before = statuses()
    assert any(s not in ("completed", "failed", "cancelled", "incomplete") for s in before)
    time.sleep(1)
    stack.start_worker("worker2")

    final = wait_for(
        lambda: all_completed(statuses()),
        90,
        interval=1,
        what="every job to complete after the restart",
    )
    assert final == ["completed"] * JOBS

    stats = httpx.get(simulator.url.removesuffix("/v1") + "/_sim/stats").json()
    for job_id in ids:
        view = httpx.get(f"{stack.api_url}/v1/jobs/{job_id}", headers=headers).json()
        assert view["output_text"]
        # One create reached the upstream, unless the job says it may have been duplicated.
        assert stats["create_attempts"][job_id] == 1 or view["possibly_duplicated"], view

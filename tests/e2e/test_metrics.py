"""Metrics as Prometheus scrapes them: the API's /metrics (HTTP, state from the database) and a
prefork worker's /metrics, where the counts of its pool children are summed. The stack logs in
JSON (LONGHAUL_LOG_FORMAT=json): job lines carry the job id, tenant, step and upstream id."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.infra import free_port
from tests.support.stack import Stack, running_stack, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def stack(database_url: str, redis_url: str, simulator: Any, metrics_port: int) -> Iterator[Stack]:
    extra = {"LONGHAUL_WORKER_METRICS_PORT": str(metrics_port), "LONGHAUL_LOG_FORMAT": "json"}
    with running_stack(database_url, redis_url, simulator.url, extra_env=extra) as st:
        yield st


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


def test_metrics_after_jobs(client: openai.OpenAI, stack: Stack, metrics_port: int) -> None:
    tag = uuid.uuid4().hex[:8]
    ok = client.responses.create(
        model="gpt-5", input=f"hello {tag}", background=True,
        metadata={"longhaul_sim": "slow:1"},
    )  # fmt: skip
    limited = client.responses.create(
        model="gpt-5", input=f"retry {tag}", background=True,
        metadata={"longhaul_sim": "create429:1"},
    )  # fmt: skip
    ids = [ok.id, limited.id]

    def done() -> bool:
        return all(client.responses.retrieve(i).status == "completed" for i in ids)

    wait_for(done, 120, interval=1, what="both jobs to complete")
    worker_url = f"http://127.0.0.1:{metrics_port}/metrics"

    def worker_counts() -> dict[Any, float] | None:
        found = samples(httpx.get(worker_url, timeout=10).text)
        return found if value(found, "longhaul_job_transitions_total", to="completed") else None

    worker = wait_for(worker_counts, 30, interval=1, what="the worker's metrics")
    # Counted in the pool children, served by the worker's main process.
    assert value(worker, "longhaul_job_transitions_total", to="completed") >= 2
    assert value(worker, "longhaul_upstream_rate_limited_total") >= 1
    assert value(worker, "longhaul_upstream_errors_total", status="429") >= 1
    for phase in ("queued_to_submitted", "submitted_to_upstream_finished",
                  "upstream_finished_to_final"):  # fmt: skip
        assert value(worker, "longhaul_job_phase_seconds_count", phase=phase) >= 2, phase
    assert value(worker, "longhaul_task_duration_seconds_count",
                 task="longhaul.maintenance.sweep") >= 1  # fmt: skip

    api = samples(httpx.get(f"{stack.api_url}/metrics", timeout=10).text)
    assert value(api, "http_requests_total", handler="/v1/responses/{response_id}") >= 2
    assert value(api, "longhaul_jobs", status="completed") >= 2
    assert value(api, "longhaul_cost_usd_total", model="gpt-5") > 0
    for name in ("longhaul_webhooks_pending", "longhaul_sweep_lag_seconds",
                 "longhaul_queue_depth"):  # fmt: skip
        assert any(n == name for n, _ in api), name


def test_json_logs_name_the_job(client: openai.OpenAI, stack: Stack) -> None:
    job = client.responses.create(model="gpt-5", input="log me", background=True)
    wait_for(lambda: client.responses.retrieve(job.id).status == "completed", 120, interval=1,
             what="the job")  # fmt: skip
    lines = [json.loads(line) for line in stack.procs["worker"].log.read_text().splitlines()
             if line.startswith("{")]  # fmt: skip
    mine = [line for line in lines if line.get("job_id") == job.id]
    assert {line["step"] for line in mine} >= {"submit", "poll"}, mine
    assert all(line["tenant"] for line in mine)
    assert any(line.get("upstream_id") for line in mine if line["step"] == "poll")
    # Idle housekeeping stays below INFO.
    assert not [line for line in lines if "longhaul.maintenance.sweep" in line["event"]]

"""The yardstick for ``e2e_throughput``: a bare Celery chain submit -> poll -> finalize over the
same upstream, with the same writes (job row states, ledger lines, outbox event; 4 commits a
job), no leases, no sweep, no task events, no pricing.

    celery -A bench.raw_chain worker -Q raw -c 2   (RAW_DATABASE_URL, RAW_REDIS_URL, RAW_UPSTREAM)
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import openai
from celery import Celery
from celery.signals import worker_process_init
from sqlalchemy import Engine, create_engine, text

app = Celery("rawchain", broker=os.environ["RAW_REDIS_URL"])
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_default_queue="raw",
)


@cache
def engine() -> Engine:
    url = os.environ["RAW_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, pool_size=2)


@cache
def client() -> openai.OpenAI:
    return openai.OpenAI(base_url=os.environ["RAW_UPSTREAM"], api_key="sk-raw", max_retries=0)


@worker_process_init.connect
def _fresh(**_: object) -> None:
    engine.cache_clear()
    client.cache_clear()


@app.task(name="raw.submit")
def submit(job_id: str) -> str:
    with engine().begin() as db:
        body = db.execute(
            text(
                "UPDATE jobs SET status='submitting', submit_attempts=submit_attempts+1, "
                "updated_at=now() WHERE id=:id RETURNING request_body"
            ),
            {"id": job_id},
        ).scalar_one()
    request: dict[str, Any] = dict(body)
    model = request.pop("model")
    request.update(background=True, store=True, metadata={"longhaul_job_id": job_id})
    created = client().responses.create(model=model, extra_body=request)
    with engine().begin() as db:
        db.execute(
            text(
                "UPDATE jobs SET status='in_progress', upstream_response_id=:rid, "
                "upstream_status=:st, submitted_at=now(), updated_at=now() WHERE id=:id"
            ),
            {"id": job_id, "rid": created.id, "st": created.status},
        )
    return job_id


@app.task(name="raw.poll")
def poll(job_id: str) -> str:
    with engine().connect() as db:
        rid = db.execute(
            text("SELECT upstream_response_id FROM jobs WHERE id=:id"), {"id": job_id}
        ).scalar_one()
    body = json.loads(client().responses.with_raw_response.retrieve(rid).text)
    with engine().begin() as db:
        db.execute(
            text(
                "UPDATE jobs SET status='finalizing', response_body=CAST(:b AS jsonb), "
                "upstream_status=:st, upstream_finished_at=now(), updated_at=now() WHERE id=:id"
            ),
            {"id": job_id, "b": json.dumps(body), "st": body.get("status")},
        )
    return job_id


@app.task(name="raw.finalize")
def finalize(job_id: str) -> None:
    """The final state, one ledger line per token kind and the outbox event, in one commit."""
    with engine().begin() as db:
        job = db.execute(
            text(
                "UPDATE jobs SET status='completed', usage=response_body->'usage', "
                "finished_at=now(), updated_at=now() WHERE id=:id "
                "RETURNING tenant_id, model, usage"
            ),
            {"id": job_id},
        ).one()
        usage = job.usage or {}
        db.execute(
            text(
                "INSERT INTO ledger_lines (job_id, tenant_id, item, kind, model, quantity, unit, "
                "per, currency, status, priced_at, details, created_at) VALUES (:id, :t, :item, "
                "'tokens', :m, :q, 'token', 1, 'USD', 'unpriced', now(), '{}', now())"
            ),
            [
                {"id": job_id, "t": job.tenant_id, "m": job.model, "item": k, "q": usage.get(k, 0)}
                for k in ("input_tokens", "output_tokens")
            ],
        )
        db.execute(
            text(
                "INSERT INTO webhook_events (id, tenant_id, job_id, type, payload, created_at) "
                "VALUES (:e, :t, :id, 'job.completed', :p, now())"
            ),
            {
                "e": f"evt_{job_id}",
                "t": job.tenant_id,
                "id": job_id,
                "p": json.dumps({"id": job_id, "status": "completed", "usage": usage}).encode(),
            },
        )


def send(job_id: str) -> None:
    (submit.s(job_id) | poll.s() | finalize.s()).apply_async()


def send_all(job_ids: list[str]) -> None:
    for job_id in job_ids:
        send(job_id)

"""The yardstick for ``bench/intake.py``: a bare FastAPI endpoint that does the least an intake
must do, one INSERT (a JSONB body, in a transaction) and one LPUSH, with the same server, driver,
pool size and thread count as Longhaul's API. Served by ``python -m bench.bare_intake PORT``
(``uvicorn.run`` with the same arguments as ``longhaul api``)."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import create_engine, text

TABLE = """CREATE TABLE IF NOT EXISTS bare_jobs (
    id text PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"""
INSERT = text("INSERT INTO bare_jobs (id, body) VALUES (:id, CAST(:body AS jsonb))")


def create_app() -> FastAPI:
    threads = int(os.environ.get("LONGHAUL_API_THREADS", "16"))
    engine = create_engine(os.environ["LONGHAUL_DATABASE_URL"], pool_size=threads, max_overflow=0)
    broker = redis.Redis.from_url(os.environ["LONGHAUL_REDIS_URL"])
    with engine.begin() as conn:
        conn.execute(text(TABLE))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    app = FastAPI(lifespan=lifespan)

    def insert_and_push(raw: bytes) -> dict[str, str]:
        body = json.loads(raw)
        job_id = f"resp_bare_{uuid.uuid4().hex}"
        with engine.begin() as conn:
            conn.execute(INSERT, {"id": job_id, "body": json.dumps(body)})
        broker.lpush("bare", json.dumps({"id": job_id}))
        return {"id": job_id, "object": "response", "status": "queued"}

    @app.post("/v1/responses")
    async def create(request: Request) -> JSONResponse:
        raw = await request.body()
        return JSONResponse(await anyio.to_thread.run_sync(insert_and_push, raw))

    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        "bench.bare_intake:create_app",
        factory=True,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="info",
        timeout_graceful_shutdown=5,
    )

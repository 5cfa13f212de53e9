"""The yardstick for ``bench/sync_wait.py``: a bare FastAPI endpoint that holds a request as
cheaply as asyncio can. ``POST /v1/responses`` does one INSERT (in a thread, as
``bare_intake.py``), then awaits one shared ``asyncio.Event``; ``POST /release`` sets it and every
held request answers. Served by ``python -m bench.bare_wait PORT`` with the same uvicorn
arguments as ``longhaul api``."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

import anyio.to_thread
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import create_engine, text

TABLE = """CREATE TABLE IF NOT EXISTS bare_jobs (
    id text PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"""
INSERT = text("INSERT INTO bare_jobs (id, body) VALUES (:id, CAST(:body AS jsonb))")


def create_app() -> FastAPI:
    threads = int(os.environ.get("LONGHAUL_API_THREADS", "16"))
    engine = create_engine(os.environ["LONGHAUL_DATABASE_URL"], pool_size=threads, max_overflow=0)
    with engine.begin() as conn:
        conn.execute(text(TABLE))
    app = FastAPI()
    released = asyncio.Event()

    def insert(raw: bytes) -> str:
        job_id = f"resp_bare_{uuid.uuid4().hex}"
        with engine.begin() as conn:
            conn.execute(INSERT, {"id": job_id, "body": json.dumps(json.loads(raw))})
        return job_id

    @app.post("/v1/responses")
    async def create(request: Request) -> JSONResponse:
        job_id = await anyio.to_thread.run_sync(insert, await request.body())
        await released.wait()
        return JSONResponse({"id": job_id, "object": "response", "status": "completed"})

    @app.post("/release")
    async def release() -> dict[str, bool]:
        released.set()
        return {"released": True}

    return app


if __name__ == "__main__":
    uvicorn.run(
        "bench.bare_wait:create_app",
        factory=True,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="info",
        timeout_graceful_shutdown=5,
    )

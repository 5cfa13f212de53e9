"""A worker killed in the middle of finalize (while archiving a large file), then restarted:
the job completes with one ledger, one artifact set (rows and stored objects) and one event."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2 as httpx
import openai
import pytest
from sqlalchemy import func, select

from longhaul.core.db import session_scope
from longhaul.core.models import Job
from longhaul.core.models.artifacts import Artifact
from longhaul.core.models.costs import LedgerLine
from tests.support.stack import Stack, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append({"id": self.headers["webhook-id"], "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def test_worker_killed_mid_finalize(
    client: openai.OpenAI,
    stack: Stack,
    api_key: str,
    database_url: str,
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = receiver
    created = client.responses.create(
        model="gpt-5.5",
        input="make files",
        background=True,
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        metadata={"longhaul_sim": "files:2,filesize:400000000"},
        extra_body={"webhook": {"url": url}},
    )
    headers = {"Authorization": f"Bearer {api_key}"}

    def status() -> str:
        return httpx.get(f"{stack.api_url}/v1/jobs/{created.id}", headers=headers).json()["status"]

    wait_for(lambda: status() == "finalizing", 30, interval=0.05, what="finalize to start")
    root = stack.workdir / ".longhaul" / "artifacts"

    def large_file_half_written() -> bool:
        partial = [p for p in root.rglob(".*.partial") if p.is_file()]
        return any(p.stat().st_size > 50_000_000 for p in partial)

    # Kill while the 400 MB file is being written (its partial file is there and growing).
    wait_for(large_file_half_written, 30, interval=0.01, what="the large file to be half-written")
    stack.procs["worker"].kill(signal.SIGKILL)
    assert status() == "finalizing"
    stack.start_worker("worker-after-crash")
    wait_for(lambda: status() == "completed", 120, interval=0.5, what="completion after restart")
    wait_for(lambda: received, 30, what="the webhook")

    with session_scope(database_url) as session:
        job = session.get(Job, created.id)
        assert job is not None
        items = session.execute(select(LedgerLine.item).where(LedgerLine.job_id == job.id)).all()
        assert items and len(items) == len(set(items))
        artifacts = session.execute(select(Artifact).where(Artifact.job_id == job.id)).scalars()
        rows = list(artifacts)
        n_rows = session.execute(
            select(func.count()).select_from(Artifact).where(Artifact.job_id == job.id)
        ).scalar()
    assert n_rows == 2 and {a.status for a in rows} == {"stored"}
    assert max(a.size for a in rows) == 400_000_000
    # Exactly the two objects in storage, nothing half-written left beside them.
    stored = [p for p in (stack.workdir / ".longhaul" / "artifacts").rglob("*") if p.is_file()]
    assert sorted(p.stat().st_size for p in stored) == sorted(a.size for a in rows)
    # One event, one delivery, whatever the crash did.
    time.sleep(2)
    assert len({r["id"] for r in received}) == 1
    assert received[0]["body"]["data"]["id"] == created.id

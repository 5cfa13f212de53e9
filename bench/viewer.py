"""Viewer: server time to render a job page with 200 tool calls and 50 artifacts, against the
plain JSON job view (``GET /v1/jobs/{id}``) of the same job in the same run, and what the page
transfers without the artifacts' bytes.

    .venv/bin/python -m bench.viewer [--calls 200] [--artifacts 50] [--rounds 30] [--json]

Uses LONGHAUL_TEST_DATABASE_URL / LONGHAUL_TEST_REDIS_URL when set, else starts its own (a
scratch database is created and dropped). The app runs in this process (Starlette's test
client), so both figures are server time without a network.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from longhaul.core.ids import new_job_id
from tests.support import infra

KINDS = (
    "web_search_call",
    "code_interpreter_call",
    "function_call",
    "file_search_call",
    "mcp_call",
    "image_generation_call",
)


def _item(i: int, kind: str) -> dict[str, Any]:
    base: dict[str, Any] = {"id": f"it_{i:04d}", "type": kind, "status": "completed"}
    if kind == "web_search_call":
        base["action"] = {
            "type": "search",
            "query": f"query {i}",
            "sources": [{"type": "url", "url": f"https://example.org/{i}/{n}"} for n in range(5)],
        }
    elif kind == "code_interpreter_call":
        base["code"] = "\n".join(f"value_{n} = compute({n}, {i})  # step {n}" for n in range(20))
        base["outputs"] = [{"type": "logs", "logs": f"done {i}\n" * 5}]
        base["container_id"] = "cntr_bench"
    elif kind == "function_call":
        base.update(
            name="lookup",
            call_id=f"call_{i}",
            arguments=json.dumps({"id": i, "fields": ["a", "b", "c"]}),
        )
    elif kind == "file_search_call":
        base["queries"] = [f"document {i}"]
        base["results"] = [
            {
                "file_id": f"file_{n}",
                "filename": f"doc_{n}.txt",
                "score": 0.5,
                "text": "Lorem ipsum dolor sit amet. " * 4,
            }
            for n in range(3)
        ]
    elif kind == "mcp_call":
        base.update(
            server_label="docs", name="search", arguments='{"q": "x"}', output="result text " * 20
        )
    else:
        base.update(
            result="iVBORw0KGgo" + "A" * 20000, revised_prompt=f"picture {i}", size="1024x1024"
        )
    return base


def seed(database_url: str, calls: int, artifacts: int) -> tuple[str, str]:
    """A tenant, its key and one finished job with ``calls`` tool calls and ``artifacts`` files."""
    from longhaul.core.auth import create_api_key, tenant_for_key
    from longhaul.core.db import session_scope
    from longhaul.core.models import Job, ToolCall, utcnow
    from longhaul.core.models.artifacts import Artifact
    from longhaul.core.models.costs import LedgerLine

    with session_scope(database_url) as session:
        key = create_api_key(session, tenant_name=f"bench-{uuid.uuid4().hex[:8]}")
        tenant = tenant_for_key(session, key)
        now = utcnow()
        output = [_item(i, KINDS[i % len(KINDS)]) for i in range(calls)]
        answer = "\n\n".join(
            f"## Part {n}\n\nSome **findings** with a [link](https://example.org/"
            f"{n}) and `code`.\n\n- one\n- two"
            for n in range(40)
        )
        output.insert(
            0,
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Thinking. " * 100}],
            },
        )
        output.append(
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": answer, "annotations": []}],
            }
        )
        job = Job(
            id=new_job_id(),
            tenant_id=tenant.id,
            status="completed",
            model="o3",
            request_body={"model": "o3", "input": "bench"},
            request_hash="0" * 64,
            deadline_at=now + timedelta(hours=1),
            state_history=[
                {"status": s, "at": (now + timedelta(seconds=n)).isoformat()}
                for n, s in enumerate(("submitting", "in_progress", "finalizing", "completed"))
            ],
            possibly_duplicated=False,
            submit_attempts=1,
            poll_count=40,
            created_at=now,
            updated_at=now,
            submitted_at=now,
            finished_at=now + timedelta(minutes=20),
            output_text=answer,
            response_body={
                "id": "resp_bench",
                "object": "response",
                "status": "completed",
                "output": output,
            },
        )
        session.add(job)
        session.flush()
        for index, item in enumerate(output):
            if item["type"] in KINDS:
                session.add(
                    ToolCall(
                        job_id=job.id,
                        output_index=index,
                        item_id=item["id"],
                        type=item["type"],
                        status="completed",
                        data=item,
                    )
                )
        for n in range(artifacts):
            png = n % 2 == 0
            session.add(
                Artifact(
                    id=f"art_{uuid.uuid4().hex[:20]}",
                    job_id=job.id,
                    tenant_id=tenant.id,
                    kind="container_file",
                    source_key=f"src_{n}",
                    source={},
                    output_index=None,
                    item_id=f"it_{(n * 4) % calls:04d}",
                    filename=f"file_{n}.{'png' if png else 'csv'}",
                    content_type="image/png" if png else "text/csv",
                    size=1000 + n,
                    sha256="0" * 64,
                    storage_key=f"bench/{n}",
                    status="stored",
                )
            )
        for n, kind in enumerate(("input_tokens", "output_tokens", "reasoning_tokens")):
            session.add(
                LedgerLine(
                    job_id=job.id,
                    tenant_id=tenant.id,
                    item=kind,
                    kind=kind,
                    tool=None,
                    model="o3",
                    quantity=Decimal(1000 * (n + 1)),
                    unit="token",
                    unit_price=Decimal("0.000002"),
                    per=1,
                    amount=Decimal("0.002") * (n + 1),
                    status="priced",
                    priced_at=now,
                )
            )
        return key, job.id


def _timed(client: Any, url: str, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    response = client.get(url, **kwargs)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return elapsed, response


def run(calls: int, artifacts: int, rounds: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from longhaul.core import migrate

    with (
        infra.postgres_server() as server,
        infra.fresh_database(server) as db,
        infra.redis_server() as redis_url,
    ):
        os.environ.update(
            LONGHAUL_DATABASE_URL=db,
            LONGHAUL_REDIS_URL=redis_url,
            LONGHAUL_RATE_LIMIT_PER_SECOND="0",
        )
        from longhaul.core.config import get_settings

        get_settings.cache_clear()
        migrate.upgrade(db)
        key, job_id = seed(db, calls, artifacts)
        from longhaul.api.app import create_app

        client = TestClient(create_app())
        login = client.get("/ui/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
        client.post("/ui/login", data={"csrf": csrf, "key": key, "next": "/ui/jobs"})
        bearer = {"Authorization": f"Bearer {key}"}
        for _ in range(3):  # warm both paths (templates compiled, pools filled)
            _timed(client, f"/ui/jobs/{job_id}")
            _timed(client, f"/v1/jobs/{job_id}", headers=bearer)
        page, api = [], []
        for _ in range(rounds):  # interleaved, so load changes hit both alike
            page.append(_timed(client, f"/ui/jobs/{job_id}")[0])
            api.append(_timed(client, f"/v1/jobs/{job_id}", headers=bearer)[0])
        html = client.get(f"/ui/jobs/{job_id}").content
        assets = [
            client.get(f"/ui/static/{name}").content
            for name in ("app.css", "app.js", "pygments.css")
        ]
        total = len(html) + sum(len(a) for a in assets)
        gz = len(gzip.compress(html)) + sum(len(gzip.compress(a)) for a in assets)
        page_ms, api_ms = statistics.median(page) * 1000, statistics.median(api) * 1000
        return {
            "tool_calls": calls,
            "artifacts": artifacts,
            "rounds": rounds,
            "page_median_ms": round(page_ms, 1),
            "page_p90_ms": round(sorted(page)[int(rounds * 0.9) - 1] * 1000, 1),
            "json_view_median_ms": round(api_ms, 1),
            "page_vs_json": round(page_ms / api_ms, 2),
            "html_bytes": len(html),
            "transfer_bytes": total,
            "transfer_gzip_bytes": gz,
            "loadavg": [round(x, 2) for x in os.getloadavg()],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--artifacts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.calls, args.artifacts, args.rounds)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"job page, {result['tool_calls']} tool calls + {result['artifacts']} artifacts "
        f"({result['rounds']} rounds, load average {result['loadavg']})"
    )
    print(
        f"  render: median {result['page_median_ms']} ms (p90 {result['page_p90_ms']} ms); "
        f"JSON job view {result['json_view_median_ms']} ms; page/JSON "
        f"{result['page_vs_json']}x   goal <= 300 ms"
    )
    print(
        f"  transfer without artifacts: {result['transfer_bytes'] / 1024:.0f} KB "
        f"(HTML {result['html_bytes'] / 1024:.0f} KB + CSS/JS; gzip would make it "
        f"{result['transfer_gzip_bytes'] / 1024:.0f} KB)   goal <= 300 KB"
    )


if __name__ == "__main__":
    main()

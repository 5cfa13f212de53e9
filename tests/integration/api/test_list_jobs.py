"""``GET /v1/jobs`` costs a constant number of SQL statements, whatever the page size, and its
metadata filter is a containment query the GIN index serves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key
from longhaul.core.costs.ledger import write_ledger
from longhaul.core.models import Tenant, utcnow
from longhaul.core.models.artifacts import Artifact
from tests.support.factories import add_job

RESPONSE = {
    "model": "gpt-4.1",
    "usage": {"input_tokens": 1000, "output_tokens": 100},
    "output": [],
}


@pytest.fixture(scope="module")
def api(database_url: str, redis_url: str) -> Iterator[TestClient]:
    from longhaul.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def statements(database_url: str) -> Iterator[list[str]]:
    """Every SQL statement any engine of this process sends while the test runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@pytest.fixture
def tenant_with_jobs(session: Session, tenant: Tenant) -> tuple[Tenant, str, list[str]]:
    """120 jobs, some finished with a ledger and an artifact, some with metadata."""
    key = create_api_key(session, tenant_name=tenant.name)
    start = utcnow() - timedelta(hours=1)
    ids = []
    for i in range(120):
        job = add_job(
            session,
            tenant.id,
            commit=False,
            status="completed" if i % 3 == 0 else "queued",
            model="gpt-4.1",
            created_at=start + timedelta(seconds=i),
            job_metadata={"batch": str(i % 2), "n": str(i)},
        )
        ids.append(job.id)
        if i % 3 == 0:
            write_ledger(session, job, RESPONSE)
            session.add(
                Artifact(
                    id=f"art_{uuid.uuid4().hex[:20]}",
                    job_id=job.id,
                    tenant_id=tenant.id,
                    kind="file",
                    source_key=f"file:{i}",
                    source={"file_id": f"file_{i}"},
                    filename=f"out{i}.txt",
                    storage_key=f"k/{i}",
                    status="stored",
                )
            )
    session.commit()
    return tenant, key, ids


def test_page_of_100_costs_the_same_statements_as_a_page_of_2(
    api: TestClient, tenant_with_jobs: tuple[Tenant, str, list[str]], statements: list[str]
) -> None:
    _, key, ids = tenant_with_jobs
    headers = {"Authorization": f"Bearer {key}"}

    api.get("/v1/jobs", params={"limit": 1}, headers=headers)  # the key's tenant is now cached
    counts = {}
    for limit in (2, 5, 100):
        statements.clear()
        r = api.get("/v1/jobs", params={"limit": limit}, headers=headers)
        assert r.status_code == 200, r.text
        counts[limit] = len(statements)
        page = r.json()
        assert len(page["data"]) == limit and page["has_more"] is True
    assert counts[100] == counts[5] == counts[2] == 3, counts  # jobs, ledger lines, files

    newest_first = list(reversed(ids))
    assert [j["id"] for j in page["data"]] == newest_first[:100]
    for row in page["data"]:
        n = int(row["metadata"]["n"])
        if n % 3 == 0:
            assert row["cost"]["total"] == "0.002800"  # 1000 * 2/M + 100 * 8/M
            assert [a["filename"] for a in row["artifacts"]] == [f"out{n}.txt"]
            assert row["artifacts"][0]["download_url"].endswith(
                f"/v1/jobs/{row['id']}/artifacts/{row['artifacts'][0]['id']}"
            )
        else:
            assert row["cost"] is None and row["artifacts"] == []

    # the next page through the cursor: one more statement (the cursor row), still constant
    statements.clear()
    r = api.get("/v1/jobs", params={"limit": 100, "after": page["last_id"]}, headers=headers)
    assert [j["id"] for j in r.json()["data"]] == newest_first[100:]
    assert len(statements) <= counts[100] + 1


def test_metadata_filter_is_containment_and_uses_the_index(
    api: TestClient, tenant_with_jobs: tuple[Tenant, str, list[str]], session: Session
) -> None:
    _, key, _ = tenant_with_jobs
    r = api.get(
        "/v1/jobs",
        params={"limit": 100, "metadata[batch]": "1", "metadata[n]": "7"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert [j["metadata"] for j in r.json()["data"]] == [{"batch": "1", "n": "7"}]
    r = api.get(
        "/v1/jobs",
        params={"limit": 100, "metadata[batch]": "0"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert len(r.json()["data"]) == 60

    # With sequential scans priced out, the planner reaches the rows through ix_jobs_metadata.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = session.execute(
        text("EXPLAIN SELECT id FROM jobs WHERE metadata @> CAST(:m AS jsonb)"),
        {"m": '{"batch": "1"}'},
    ).scalars()
    assert "ix_jobs_metadata" in "\n".join(plan)
    session.rollback()

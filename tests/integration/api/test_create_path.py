"""What a create costs the database: with the tenant cached, one INSERT in its own transaction
(no pre-ping, no re-read of the row, no ledger or artifact reads), in one worker thread; with a
budget, one statement that admits the job, inserts it and takes its hold."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key
from longhaul.core.costs.budgets import set_budget

BODY = {"model": "gpt-5.5", "input": "hi", "background": True, "metadata": {"k": "v"}}


@pytest.fixture(scope="module")
def api(database_url: str, redis_url: str) -> Iterator[TestClient]:
    from longhaul.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def traffic(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Any]]]:
    """Statements sent (with the connection's autocommit flag) and worker-thread hops taken."""
    seen: dict[str, list[Any]] = {"statements": [], "hops": [], "sql": []}

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        autocommit = conn.connection.dbapi_connection.autocommit
        seen["statements"].append((statement.split()[0], autocommit))
        seen["sql"].append(statement)

    real = anyio.to_thread.run_sync

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen["hops"].append(getattr(fn, "__name__", repr(fn)))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _key(session: Session, budget: Decimal | None = None) -> dict[str, str]:
    name = f"create-{uuid.uuid4().hex[:8]}"
    key = create_api_key(session, tenant_name=name)
    if budget is not None:
        set_budget(session, tenant_name=name, usd=budget)
    session.commit()
    return {"Authorization": f"Bearer {key}"}


def test_a_create_is_one_insert_in_one_thread(
    api: TestClient, session: Session, traffic: dict[str, list[Any]]
) -> None:
    auth = _key(session)
    traffic["statements"].clear()
    first = api.post("/v1/responses", json=BODY, headers=auth)
    assert first.status_code == 200, first.text
    assert traffic["statements"][0][0] == "SELECT"  # the key, looked up once

    traffic["statements"].clear()
    traffic["hops"].clear()
    r = api.post("/v1/responses", json=BODY, headers=auth)
    assert r.status_code == 200, r.text
    assert traffic["statements"] == [("INSERT", True)]  # autocommit: no BEGIN, no COMMIT
    assert traffic["hops"] == ["_create"]
    view = r.json()
    assert view["status"] == "queued" and view["metadata"] == {"k": "v"}
    assert view["longhaul"]["cost"] is None and view["longhaul"]["artifacts"] == []

    # the view came from the inserted values: it matches a later read of the row
    again = api.get(f"/v1/responses/{view['id']}", headers=auth).json()
    assert {k: v for k, v in again.items() if k != "longhaul"} == {
        k: v for k, v in view.items() if k != "longhaul"
    }
    assert again["longhaul"] == view["longhaul"]


def test_with_a_budget_the_job_and_its_hold_are_one_statement_reading_one_rollup_row(
    api: TestClient, session: Session, traffic: dict[str, list[Any]]
) -> None:
    auth = _key(session, budget=Decimal("100"))
    traffic["statements"].clear()
    assert api.post("/v1/responses", json=BODY, headers=auth).status_code == 200
    traffic["statements"].clear()
    traffic["sql"].clear()
    assert api.post("/v1/responses", json=BODY, headers=auth).status_code == 200
    # admit, insert the job, insert its hold: one autocommitted statement, no BEGIN or COMMIT
    assert traffic["statements"] == [("WITH", True)]
    (sql,) = traffic["sql"]
    assert "INSERT INTO jobs" in sql and "INSERT INTO budget_holds" in sql
    assert sql.count("tenant_month_spend") == 1  # this month's spend: one row
    assert "ledger_lines" not in sql  # never summed from the history


def test_the_api_pool_is_sized_with_its_threads_and_skips_the_pre_ping(
    api: TestClient,
) -> None:
    from longhaul.api.db import sessions
    from longhaul.core.config import get_settings

    pool = sessions().kw["bind"].pool
    assert pool.size() == get_settings().api_threads
    assert pool._max_overflow == 0
    assert pool._pre_ping is False


def test_an_expired_key_is_looked_up_once_however_many_requests_wait(
    database_url: str, session: Session, traffic: dict[str, list[Any]]
) -> None:
    import anyio

    from longhaul.api.deps import _look_up_once
    from longhaul.core.auth import TenantCache, hash_key

    key = _key(session)["Authorization"].removeprefix("Bearer ")
    cache = TenantCache(5.0)
    inflight: dict[str, Any] = {}
    found: list[str] = []
    traffic["statements"].clear()

    async def many() -> None:
        async def one() -> None:
            found.append((await _look_up_once(inflight, cache, hash_key(key))).id)

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(one)

    anyio.run(many)
    assert len(found) == 50 and len(set(found)) == 1
    assert traffic["statements"] == [("SELECT", False)]  # one lookup for the fifty
    assert cache.get(hash_key(key)) is not None and inflight == {}

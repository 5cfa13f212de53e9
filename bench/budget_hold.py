"""Intake with a budget hold vs without, for tenants with a long history.

Two tenants get the same history (``--history`` finished jobs this month, each with a ledger line,
a released hold and its month-spend rollup); one has a budget (``LONGHAUL_BUDGET_MODE=hold``),
the other none. Creates go through the real ASGI app (``POST /v1/responses`` in-process with
Starlette's TestClient against real PostgreSQL; the broker call is stubbed out, it is the same
for both), alternating between the tenants in rounds, so both see the same load. There is no
worker: after every ``--batch`` creates the bench marks the queued jobs finished (both tenants
alike), as if they had run; ``--batch 0`` leaves them all active (admission reads running
totals, so its cost should not grow with them)::

    LONGHAUL_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
      .venv/bin/python -m bench.budget_hold --history 200000 --creates 300 --rounds 3

Prints, per round and overall, creates/s for each tenant and the ratio (budget / none), with
the load average. The target is a ratio ≥ 0.90.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from decimal import Decimal

import psycopg


def seed(dsn: str, tenant_ids: list[str], history: int) -> None:
    """``history`` finished jobs per tenant this month, with a ledger line, a released hold and
    the rollup they add up to (plain SQL: fast)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for tenant_id in tenant_ids:
            conn.execute(
                """
                INSERT INTO jobs (id, tenant_id, status, model, request_body, request_hash,
                                  deadline_at, state_history, possibly_duplicated,
                                  submit_attempts, poll_count, created_at, updated_at,
                                  finished_at)
                SELECT %(t)s || '_h' || g, %(t)s, 'completed', 'gpt-5.5',
                       '{"model": "gpt-5.5", "input": "hi"}', md5(g::text),
                       now() + interval '1 hour', '[]', false, 1, 1, now(), now(), now()
                FROM generate_series(1, %(n)s) g
                """,
                {"t": tenant_id, "n": history},
            )
            conn.execute(
                """
                INSERT INTO ledger_lines (job_id, tenant_id, item, kind, model, quantity, unit,
                                          unit_price, per, amount, currency, status, priced_at,
                                          details, created_at)
                SELECT %(t)s || '_h' || g, %(t)s, 'tokens:output_tokens', 'output_tokens',
                       'gpt-5.5', 10, 'token', 30, 1000000, 0.0003, 'USD', 'priced', now(),
                       '{}', now()
                FROM generate_series(1, %(n)s) g
                """,
                {"t": tenant_id, "n": history},
            )
            conn.execute(
                """
                INSERT INTO budget_holds (job_id, tenant_id, amount, estimate, created_at,
                                          released_at)
                SELECT %(t)s || '_h' || g, %(t)s, 0.2, '{}', now(), now()
                FROM generate_series(1, %(n)s) g
                """,
                {"t": tenant_id, "n": history},
            )
            conn.execute(
                """
                INSERT INTO tenant_month_spend (tenant_id, month, amount)
                VALUES (%(t)s, date_trunc('month', now() AT TIME ZONE 'UTC')::date, %(a)s)
                """,
                {"t": tenant_id, "a": Decimal("0.0003") * history},
            )
        conn.execute("ANALYZE")


def finish_queued(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE jobs SET status = 'completed', finished_at = now() WHERE status = 'queued'"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, default=200_000)
    parser.add_argument("--creates", type=int, default=300, help="per tenant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50, help="finish queued jobs every N")
    args = parser.parse_args()

    from tests.support.infra import fresh_database, postgres_server

    with postgres_server() as server, fresh_database(server) as url:
        os.environ["LONGHAUL_DATABASE_URL"] = url
        os.environ["LONGHAUL_BUDGET_MODE"] = "hold"
        os.environ["LONGHAUL_RATE_LIMIT_PER_SECOND"] = "0"  # one key sends everything
        from fastapi.testclient import TestClient

        from longhaul.api.app import create_app
        from longhaul.core.auth import create_api_key
        from longhaul.core.config import get_settings
        from longhaul.core.costs.budgets import set_budget
        from longhaul.core.db import session_scope
        from longhaul.core.migrate import upgrade
        from longhaul.core.models import Tenant

        get_settings.cache_clear()
        upgrade(url)
        names = {"budget": f"b-{uuid.uuid4().hex[:6]}", "none": f"n-{uuid.uuid4().hex[:6]}"}
        keys: dict[str, str] = {}
        with session_scope(url) as session:
            for arm, name in names.items():
                keys[arm] = create_api_key(session, tenant_name=name)
            # the history costs 0.0003 a job: 60 USD for 200,000; a budget far above it
            set_budget(session, tenant_name=names["budget"], usd=Decimal("1000000"))
            ids = [
                session.query(Tenant.id).filter(Tenant.name == n).scalar() for n in names.values()
            ]
        t0 = time.monotonic()
        dsn = url.replace("postgresql+psycopg", "postgresql")
        seed(dsn, [str(i) for i in ids], args.history)
        print(f"seeded {args.history} jobs per tenant in {time.monotonic() - t0:.1f}s")
        body = {
            "model": "gpt-5.5",
            "input": "Summarise the history of trucking.",
            "background": True,
            "max_output_tokens": 2_000,
            "tools": [{"type": "web_search"}],
        }
        rates: dict[str, list[float]] = {"budget": [], "none": []}
        with TestClient(create_app()) as client:
            for arm in ("budget", "none"):  # warm up both paths
                client.post(
                    "/v1/responses", json=body, headers={"Authorization": f"Bearer {keys[arm]}"}
                )
            for round_no in range(args.rounds):
                for arm in ("none", "budget") if round_no % 2 else ("budget", "none"):
                    auth = {"Authorization": f"Bearer {keys[arm]}"}
                    start = time.monotonic()
                    spent = 0.0
                    for n in range(args.creates):
                        r = client.post("/v1/responses", json=body, headers=auth)
                        assert r.status_code == 200, r.text
                        if args.batch and (n + 1) % args.batch == 0:
                            paused = time.monotonic()
                            finish_queued(dsn)
                            spent += time.monotonic() - paused
                    rates[arm].append(args.creates / (time.monotonic() - start - spent))
                    finish_queued(dsn)
                ratio = rates["budget"][-1] / rates["none"][-1]
                print(
                    json.dumps(
                        {
                            "round": round_no + 1,
                            "creates_per_s_budget": round(rates["budget"][-1], 1),
                            "creates_per_s_none": round(rates["none"][-1], 1),
                            "ratio": round(ratio, 3),
                            "loadavg": os.getloadavg(),
                        }
                    )
                )
        total = sum(rates["budget"]) / sum(rates["none"])
        print(
            json.dumps(
                {"history": args.history, "batch": args.batch, "ratio_mean": round(total, 3)}
            )
        )


if __name__ == "__main__":
    main()

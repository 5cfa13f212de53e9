"""The month-spend rollup: moved by the ledger's own transaction, backfilled by the migration."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal as D

import psycopg
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from longhaul.core.costs.budgets import month_spend
from longhaul.core.costs.ledger import write_ledger
from longhaul.core.migrate import alembic_config
from longhaul.core.models import Job, Tenant
from longhaul.core.models.costs import LedgerLine
from tests.integration.costs.test_usage_budgets import _response
from tests.support import infra


def _ledger_sum(session: Session, tenant_id: str) -> D:
    since = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    total = session.execute(
        select(func.coalesce(func.sum(LedgerLine.amount), 0)).where(
            LedgerLine.tenant_id == tenant_id, LedgerLine.created_at >= since
        )
    ).scalar_one()
    return D(total)


def test_rollup_follows_the_ledger_and_ignores_replays_and_rollbacks(
    session: Session, tenant: Tenant, make_job: Callable[..., Job]
) -> None:
    a, b, c = make_job(model="gpt-5"), make_job(model="gpt-4.1"), make_job(model="acme-llm-9")
    assert month_spend(session, tenant.id) == 0

    write_ledger(session, a, _response("gpt-5", 100_000, 10_000))  # 0.225
    session.commit()
    assert month_spend(session, tenant.id) == D("0.225")

    write_ledger(session, a, _response("gpt-5", 999_999, 99_999))  # a replay writes nothing
    write_ledger(session, b, _response("gpt-4.1", 50_000, 5_000))  # 0.14
    write_ledger(session, c, _response("acme-llm-9", 10, 10))  # unpriced: counts as zero
    session.commit()
    assert month_spend(session, tenant.id) == D("0.365") == _ledger_sum(session, tenant.id)

    d = make_job(model="gpt-4.1")
    write_ledger(session, d, _response("gpt-4.1", 50_000, 5_000))
    session.rollback()  # the rollup moves with the ledger's transaction, or not at all
    assert month_spend(session, tenant.id) == D("0.365") == _ledger_sum(session, tenant.id)


def test_migration_backfills_the_rollup_from_existing_lines(pg_server_url: str) -> None:
    with infra.fresh_database(pg_server_url) as url:
        cfg = alembic_config(url)
        command.upgrade(cfg, "0004_webhooks")
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        tenant = f"ten_{uuid.uuid4().hex[:12]}"
        lines = [  # (created_at, amount)
            ("2026-10-31 23:59:59+00", "1.5"),
            ("2026-11-01 00:00:00+00", "2.25"),
            ("2026-11-30 23:59:59+00", "0.000001"),
            ("2026-11-15 12:00:00+00", None),  # unpriced
        ]
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES (%s, %s, now())",
                (tenant, tenant),
            )
            for i, (created, amount) in enumerate(lines):
                job = f"resp_lh_{uuid.uuid4().hex}"
                conn.execute(
                    "INSERT INTO jobs (id, tenant_id, status, model, request_body, request_hash,"
                    " possibly_duplicated, submit_attempts, poll_count, deadline_at,"
                    " state_history, created_at, updated_at) VALUES (%s, %s, 'completed', 'm',"
                    " '{}', '', false, 0, 0, now(), '[]', now(), now())",
                    (job, tenant),
                )
                conn.execute(
                    "INSERT INTO ledger_lines (job_id, tenant_id, item, kind, model, quantity,"
                    " unit, per, amount, currency, status, priced_at, details, created_at)"
                    " VALUES (%s, %s, %s, 'input_tokens', 'm', 1, 'token', 1, %s, 'USD',"
                    " 'priced', now(), '{}', %s)",
                    (job, tenant, f"item{i}", amount, created),
                )
        command.upgrade(cfg, "head")
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT month, amount FROM tenant_month_spend WHERE tenant_id = %s ORDER BY 1",
                (tenant,),
            ).fetchall()
        assert [(str(m), a) for m, a in rows] == [
            ("2026-10-01", D("1.5")),
            ("2026-11-01", D("2.250001")),
        ]

"""/v1/usage over HTTP (JSON and CSV), tenant isolation and the admin key; monthly budgets."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key
from longhaul.core.costs.budgets import check_budget, month_spend, set_budget
from longhaul.core.costs.ledger import write_ledger
from longhaul.core.errors import BudgetExceeded
from longhaul.core.models import Job, Tenant

ADMIN_KEY = "lh_admin_" + uuid.uuid4().hex
NOV = datetime(2026, 11, 2, 12, tzinfo=UTC)


def _response(model: str, inp: int, out: int, searches: int = 0) -> dict[str, Any]:
    return {
        "model": model,
        "service_tier": "default",
        "usage": {
            "input_tokens": inp,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": 0},
        },
        "tool_usage": {"web_search": {"num_requests": searches}},
        "output": [],
    }


@pytest.fixture
def api(database_url: str) -> Iterator[TestClient]:
    from longhaul.api.app import create_app
    from longhaul.core.config import get_settings

    os.environ["LONGHAUL_ADMIN_API_KEY"] = ADMIN_KEY
    get_settings.cache_clear()
    try:
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            yield client
    finally:
        os.environ.pop("LONGHAUL_ADMIN_API_KEY", None)
        get_settings.cache_clear()


@pytest.fixture
def spent_tenant(
    session: Session, tenant: Tenant, make_job: Callable[..., Job]
) -> tuple[Tenant, str]:
    """Two finished jobs: gpt-5 with 2 web searches, gpt-4.1 tokens only."""
    key = create_api_key(session, tenant_name=tenant.name)
    a = make_job(model="gpt-5", request={"tools": [{"type": "web_search"}]}, created_at=NOV)
    b = make_job(model="gpt-4.1", created_at=NOV)
    # gpt-5: 100,000 * 1.25/M = 0.125 + 10,000 * 10/M = 0.1 + 2 * $10/1k = 0.02 → 0.245
    write_ledger(session, a, _response("gpt-5", 100_000, 10_000, searches=2))
    # gpt-4.1: 50,000 * 2/M = 0.1 + 5,000 * 8/M = 0.04 → 0.14
    write_ledger(session, b, _response("gpt-4.1", 50_000, 5_000))
    session.commit()
    return tenant, key


def test_usage_json_grouped_by_model_and_tool(
    api: TestClient, spent_tenant: tuple[Tenant, str]
) -> None:
    _, key = spent_tenant
    today = datetime.now(UTC).date()
    r = api.get(
        "/v1/usage",
        params={"start": str(today), "end": str(today), "group_by": "day,model,tool"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total_cost_usd"] == "0.385000"  # 0.245 + 0.14
    assert body["group_by"] == ["day", "model", "tool"]
    rows = {(row["model"], row["tool"]): row for row in body["data"]}
    assert set(rows) == {("gpt-4.1", None), ("gpt-5", None), ("gpt-5", "web_search")}
    assert rows[("gpt-5", None)]["cost_usd"] == "0.225000"
    assert rows[("gpt-5", None)]["input_tokens"] == 100_000
    assert rows[("gpt-5", None)]["output_tokens"] == 10_000
    assert rows[("gpt-5", "web_search")]["tool_calls"] == 2
    assert rows[("gpt-5", "web_search")]["cost_usd"] == "0.020000"
    assert rows[("gpt-4.1", None)]["cost_usd"] == "0.140000"
    assert all(row["day"] == str(today) for row in body["data"])

    ungrouped = api.get("/v1/usage", headers={"Authorization": f"Bearer {key}"}).json()
    assert ungrouped["data"] == [
        {
            "cost_usd": "0.385000",
            "unpriced_lines": 0,
            "jobs": 2,
            "input_tokens": 150_000,
            "cached_input_tokens": 0,
            "output_tokens": 15_000,
            "tool_calls": 2,
        }
    ]


def test_usage_csv(api: TestClient, spent_tenant: tuple[Tenant, str]) -> None:
    _, key = spent_tenant
    r = api.get(
        "/v1/usage",
        params={"group_by": "model", "format": "csv"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["model"], row["cost_usd"], row["jobs"]) for row in rows] == [
        ("gpt-4.1", "0.140000", "1"),
        ("gpt-5", "0.245000", "1"),
    ]


def test_usage_tenant_scope_and_admin(
    api: TestClient, spent_tenant: tuple[Tenant, str], session: Session
) -> None:
    tenant, key = spent_tenant
    other_key = create_api_key(session, tenant_name=f"other-{uuid.uuid4().hex[:8]}")
    session.commit()
    other = api.get("/v1/usage", headers={"Authorization": f"Bearer {other_key}"}).json()
    assert other["data"] == [] and other["total_cost_usd"] == "0.000000"

    refused = api.get(
        "/v1/usage", params={"group_by": "tenant"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "group_by"
    assert api.get("/v1/usage").status_code == 401
    bad = api.get(
        "/v1/usage", params={"group_by": "week"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert bad.status_code == 400

    admin = api.get(
        "/v1/usage",
        params={"group_by": "tenant,model"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert admin.status_code == 200
    mine = [row for row in admin.json()["data"] if row["tenant"] == tenant.name]
    assert {row["model"]: row["cost_usd"] for row in mine} == {
        "gpt-4.1": "0.140000",
        "gpt-5": "0.245000",
    }
    filtered = api.get(
        "/v1/usage",
        params={"tenant": tenant.name},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ).json()
    assert filtered["total_cost_usd"] == "0.385000"


def test_budget_refuses_once_month_spend_reaches_it(
    session: Session, spent_tenant: tuple[Tenant, str]
) -> None:
    tenant, _ = spent_tenant
    assert month_spend(session, tenant.id) == D("0.385")
    check_budget(session, tenant)  # no budget: never refused

    set_budget(session, tenant_name=tenant.name, usd=D("0.50"))
    check_budget(session, tenant)  # 0.385 < 0.50

    set_budget(session, tenant_name=tenant.name, usd=D("0.385"))
    with pytest.raises(BudgetExceeded) as exc:
        check_budget(session, tenant)  # spend == budget: refused
    assert exc.value.code == "budget_exceeded"
    assert "0.385000" in exc.value.message

    # spend from last month does not count
    assert month_spend(session, tenant.id, now=datetime.now(UTC) + timedelta(days=40)) == 0
    set_budget(session, tenant_name=tenant.name, usd=None)
    check_budget(session, tenant)
    session.commit()


def test_budget_error_maps_to_http_402_insufficient_quota() -> None:
    from longhaul.api.errors import STATUS, TYPES

    assert STATUS[BudgetExceeded] == 402
    assert TYPES[402] == "insufficient_quota"


def test_cli_costs_and_budgets(
    spent_tenant: tuple[Tenant, str], session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    from longhaul.cli.main import main

    tenant, _ = spent_tenant
    assert main(["costs", "--tenant", tenant.name, "--group-by", "model", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["model"], row["cost_usd"]) for row in rows] == [
        ("gpt-4.1", "0.140000"),
        ("gpt-5", "0.245000"),
    ]
    assert main(["costs", "--tenant", tenant.name]) == 0
    assert "total cost: $0.385000" in capsys.readouterr().out
    assert main(["budgets", "set", "--tenant", tenant.name, "--usd", "100"]) == 0
    assert "$100.00" in capsys.readouterr().out
    assert main(["budgets", "show", "--tenant", tenant.name]) == 0
    assert "spent $0.385000" in capsys.readouterr().out
    session.refresh(tenant)
    assert tenant.monthly_budget_usd == D("100")

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

    default = api.get("/v1/usage", headers={"Authorization": f"Bearer {key}"}).json()
    assert default["group_by"] == ["day", "model", "tool"]  # what the README promises
    assert default["data"] == body["data"]
    ungrouped = api.get(
        "/v1/usage", params={"group_by": ""}, headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert ungrouped["data"] == [
        {
            "cost_usd": "0.385000",
            "unpriced_lines": 0,
            "fallback_lines": 0,
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


IMAGE_RESPONSE: dict[str, Any] = {
    **_response("gpt-5", 10_000, 1_000),
    "output": [
        {"type": "image_generation_call", "id": "ig_1", "status": "completed"},
        {"type": "image_generation_call", "id": "ig_2", "status": "completed"},
    ],
    "tool_usage": {
        "image_gen": {
            "input_tokens": 100,
            "output_tokens": 8_320,
            "output_tokens_details": {"image_tokens": 8_320},
        }
    },
}


def test_usage_counts_image_calls_and_fallback_lines(
    api: TestClient, session: Session, tenant: Tenant, make_job: Callable[..., Job]
) -> None:
    from longhaul.core.costs.ledger import cost_summary

    key = create_api_key(session, tenant_name=tenant.name)
    fast = make_job(model="gpt-5", created_at=NOV)
    images = make_job(
        request={"tools": [{"type": "image_generation", "model": "gpt-image-1"}]}, created_at=NOV
    )
    # ultrafast is not modelled: standard price 12,000 * 1.25/M + 3,000 * 10/M = 0.045, flagged
    write_ledger(session, fast, {**_response("gpt-5", 12_000, 3_000), "service_tier": "ultrafast"})
    # host 10,000 * 1.25/M + 1,000 * 10/M = 0.0225; images 100 * 5/M + 8,320 * 40/M = 0.3333
    write_ledger(session, images, IMAGE_RESPONSE)
    session.commit()

    summary = cost_summary(session, fast)
    assert summary is not None and summary["total"] == "0.045000"
    assert summary["complete"] is False and summary["unpriced"] == []
    assert [f["item"] for f in summary["fallbacks"]] == [
        "tokens:input_tokens",
        "tokens:output_tokens",
    ]
    assert all("ultrafast" in line["fallback"] for line in summary["lines"])
    done = cost_summary(session, images)
    assert done is not None and done["complete"] is True and done["fallbacks"] == []

    r = api.get(
        "/v1/usage", params={"group_by": "tool"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 200, r.text
    rows = {row["tool"]: row for row in r.json()["data"]}
    # before: tool_calls 0 for image_generation (its lines are token lines)
    assert rows["image_generation"]["tool_calls"] == 2
    assert rows["image_generation"]["cost_usd"] == "0.333300"
    assert rows["image_generation"]["fallback_lines"] == 0
    assert rows[None]["fallback_lines"] == 2
    assert rows[None]["cost_usd"] == "0.067500"  # 0.045 + 0.0225
    csv_text = api.get(
        "/v1/usage",
        params={"format": "csv", "group_by": ""},
        headers={"Authorization": f"Bearer {key}"},
    ).text
    assert csv_text.splitlines()[0].split(",")[:3] == [
        "cost_usd",
        "unpriced_lines",
        "fallback_lines",
    ]


def test_small_budget_is_shown_to_the_tenth_of_a_cent(
    session: Session, spent_tenant: tuple[Tenant, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from longhaul.cli.main import main
    from longhaul.core.costs.money import dollars

    tenant, _ = spent_tenant
    assert [dollars(D(v)) for v in ("0.001", "100", "0.385", "0.0000004", "12.5")] == [
        "$0.001",
        "$100.00",
        "$0.385",
        "$0.00",
        "$12.50",
    ]
    set_budget(session, tenant_name=tenant.name, usd=D("0.001"))
    with pytest.raises(BudgetExceeded) as exc:
        check_budget(session, tenant)
    assert "$0.385000 spent of $0.001 this month" in exc.value.message  # before: "of $0.00"
    session.commit()
    assert main(["budgets", "set", "--tenant", tenant.name, "--usd", "0.001"]) == 0
    assert "monthly budget $0.001" in capsys.readouterr().out
    assert main(["budgets", "show", "--tenant", tenant.name]) == 0
    assert "budget $0.001" in capsys.readouterr().out

"""Cost per tool call on ``tool_calls`` rows (real PostgreSQL), shown by GET /v1/jobs/{id}."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal as D

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key
from longhaul.core.costs.ledger import cost_summary, write_ledger
from longhaul.core.jobs import extract
from longhaul.core.models import Job, Tenant, ToolCall, utcnow
from tests.unit.pricing.test_attribution import REQUEST, RESPONSE

NOV = datetime(2026, 11, 2, 12, tzinfo=UTC)


def _record_tool_calls(session: Session, job: Job, response: dict) -> None:
    """What finalize does just before the ledger: one row per tool item."""
    for index, item in extract.tool_calls(response):
        session.add(
            ToolCall(
                job_id=job.id,
                output_index=index,
                item_id=item.get("id"),
                type=item["type"],
                status=item.get("status"),
                data=item,
                created_at=utcnow(),
            )
        )
    session.flush()


def test_job_view_shows_cost_per_call_summing_to_the_ledger(
    session: Session, tenant: Tenant, make_job: Callable[..., Job], database_url: str
) -> None:
    from longhaul.api.app import create_app

    key = create_api_key(session, tenant_name=tenant.name)
    job = make_job(request=REQUEST, created_at=NOV)
    response = {**RESPONSE, "output": [*RESPONSE["output"]]}
    response["output"][7] = {**response["output"][7], "created_at": 1_789_992_000}
    _record_tool_calls(session, job, response)
    write_ledger(session, job, response)
    session.commit()

    with TestClient(create_app()) as client:
        view = client.get(f"/v1/jobs/{job.id}", headers={"Authorization": f"Bearer {key}"}).json()
    calls = {c["output_index"]: c for c in view["tool_calls"]}
    # the same split as the unit golden case: 0.07 over 3 searches, 0.03 over 2 calls in cntr_a
    assert {n: c["cost"] for n, c in calls.items()} == {
        1: "0.023334",
        2: None,  # page open: not billed
        3: "0.023333",
        4: "0.023333",
        5: "0.015000",
        6: "0.015000",
        7: "0.030000",
        8: "0.002500",
        9: "0.002500",
        10: "0.166650",
        11: "0.166650",
        12: None,  # failed image
        13: None,  # a function call costs nothing upstream
    }
    assert calls[5]["cost_details"] == {"container:cntr_a": "0.015000"}
    assert calls[7]["started_at"] == "2026-09-21T12:00:00+00:00"  # the item said so
    assert calls[5]["started_at"] is None and calls[5]["ended_at"] is None

    rows = session.query(ToolCall).filter(ToolCall.job_id == job.id).all()
    per_tool: dict[str, D] = defaultdict(D)
    summary = cost_summary(session, job)
    assert summary is not None and summary["unattributed"] == []
    tool_of = {line["item"]: line["tool"] for line in summary["lines"]}
    for row in rows:
        for item, share in (row.cost_details or {}).items():
            per_tool[tool_of[item]] += D(share)
    assert {k: f"{v:.6f}" for k, v in per_tool.items()} == summary["by_tool"]
    assert sum((r.cost for r in rows if r.cost is not None), D(0)) == sum(
        (D(v) for v in summary["by_tool"].values()), D(0)
    )  # 0.07 + 0.06 + 0.005 + 0.3333 = 0.4683
    assert summary["by_tool"] == {
        "web_search": "0.070000",
        "file_search": "0.005000",
        "code_interpreter": "0.060000",
        "image_generation": "0.333300",
    }

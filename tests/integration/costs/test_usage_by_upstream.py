"""Each ledger line records the upstream its job ran on; usage groups by upstream."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.costs.ledger import write_ledger
from longhaul.core.costs.usage import usage_report
from longhaul.core.ids import new_id
from longhaul.core.models import Job, Tenant, Upstream
from longhaul.core.models.costs import LedgerLine

NOV = datetime(2026, 11, 3, 12, tzinfo=UTC)
RESPONSE = {
    "id": "resp_u",
    "model": "gpt-5",
    "status": "completed",
    "usage": {"input_tokens": 1_000_000, "output_tokens": 0, "total_tokens": 1_000_000},
    "output": [],
}


def test_ledger_lines_carry_the_upstream_and_usage_groups_by_it(
    session: Session, tenant: Tenant, make_job: Callable[..., Job]
) -> None:
    name = f"cost-{uuid.uuid4().hex[:6]}"
    upstream = Upstream(
        id=new_id("ups_"), name=name, kind="openai", base_url="http://x", auth_style="headers",
        query={}, model_patterns=[], revision=1,
    )  # fmt: skip
    session.add(upstream)
    on_named, on_default = make_job(created_at=NOV), make_job(created_at=NOV)
    on_named.upstream_id = upstream.id
    session.commit()
    for job in (on_named, on_default):
        write_ledger(session, job, {**RESPONSE, "id": f"resp_{job.id}"})
    session.commit()

    recorded = dict(
        session.execute(
            select(LedgerLine.job_id, LedgerLine.upstream_id).where(
                LedgerLine.job_id.in_([on_named.id, on_default.id])
            )
        ).all()
    )
    assert recorded == {on_named.id: upstream.id, on_default.id: None}

    rows = usage_report(
        session,
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        group_by=["upstream"],
        tenant_id=tenant.id,
    )
    by = {r["upstream"]: r for r in rows}
    assert set(by) == {name, "default"}
    # gpt-5 input: 1M tokens at $1.25/M on each
    assert by[name]["cost_usd"] == by["default"]["cost_usd"] == "1.250000"
    assert by[name]["jobs"] == by["default"]["jobs"] == 1

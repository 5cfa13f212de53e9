"""Budget pre-authorization over HTTP (real PostgreSQL): holds at submit, 402 with the figures,
nothing stored on refusal, release when the ledger is written or the job is seen ended, and
concurrent submissions never over-admit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key
from longhaul.core.config import get_settings
from longhaul.core.costs.budgets import set_budget
from longhaul.core.costs.holds import insert_held, open_holds, plan_hold
from longhaul.core.costs.ledger import write_ledger
from longhaul.core.jobs.finalize import finalize_jobs
from longhaul.core.jobs.sweep import reconcile
from longhaul.core.models import Job, Tenant
from longhaul.core.models.costs import BudgetHold
from longhaul.core.pricing.estimate import input_bound

# gpt-5.5 standard: input $5/M, output $30/M. With max_output_tokens 6,000 a job may cost
# 6,000 * 30/M = 0.18 plus its input: 36 bytes (the input's JSON string), rounded up to a
# 256-token block, * 5/M = 0.00128, so 0.18128.
BODY = {
    "model": "gpt-5.5",
    "input": "Summarise the history of trucking.",
    "background": True,
    "max_output_tokens": 6_000,
}
HOLD = D("0.181280")


@pytest.fixture
def api(database_url: str) -> Iterator[TestClient]:
    from longhaul.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def key(session: Session, tenant: Tenant) -> str:
    key = create_api_key(session, tenant_name=tenant.name)
    set_budget(session, tenant_name=tenant.name, usd=D("1"))
    session.commit()
    return key


def _post(api: TestClient, key: str, body: dict[str, Any] | None = None) -> Any:
    return api.post("/v1/responses", json=body or BODY, headers={"Authorization": f"Bearer {key}"})


def _jobs(session: Session, tenant: Tenant) -> int:
    session.expire_all()
    return session.execute(
        select(func.count()).select_from(Job).where(Job.tenant_id == tenant.id)
    ).scalar_one()


def test_holds_admit_what_fits_and_refuse_the_rest_with_figures(
    api: TestClient, key: str, session: Session, tenant: Tenant
) -> None:
    assert input_bound(BODY) == 36
    admitted = [_post(api, key) for _ in range(5)]  # 5 * 0.18128 = 0.9064 <= $1
    assert [r.status_code for r in admitted] == [200] * 5
    refused = _post(api, key)  # 0.9064 + 0.18128 = 1.08768 > $1
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "budget_exceeded")
    assert "may cost up to $0.18128" in error["message"]
    assert "output ≤ 6,000 tokens" in error["message"]
    assert "$0.00 is spent and $0.9064 held by running jobs of $1.00" in error["message"]
    assert "leaving $0.0936" in error["message"]
    assert _jobs(session, tenant) == 5  # the refused job was never stored (nor sent upstream)
    assert open_holds(session, tenant.id) == 5 * HOLD

    small = _post(api, key, {**BODY, "max_output_tokens": 3_000})  # 0.09128: 0.99768 fits
    assert small.status_code == 200

    view = api.get(
        f"/v1/jobs/{admitted[0].json()['id']}", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert view["budget_hold"]["amount_usd"] == "0.181280"
    assert view["budget_hold"]["status"] == "held"
    assert view["budget_hold"]["estimate"]["output_tokens_max"] == 6_000


def test_hold_released_by_the_ledger_and_by_an_ended_job(
    api: TestClient, key: str, session: Session, tenant: Tenant
) -> None:
    first, second = (_post(api, key).json()["id"] for _ in range(2))
    job = session.get_one(Job, first)
    # finishes: 1,000 in * 5/M + 2,000 out * 30/M = 0.005 + 0.06 = 0.065 spent, hold released
    write_ledger(
        session,
        job,
        {"model": "gpt-5.5", "usage": {"input_tokens": 1_000, "output_tokens": 2_000}},
    )
    session.commit()
    assert session.get_one(BudgetHold, first).released_at is not None
    # cancelled while queued: no ledger; finalize ends it and releases its hold
    session.execute(
        update(Job)
        .where(Job.id == second)
        .values(status="finalizing", cancel_requested_at=func.now(), next_poll_at=func.now())
    )
    session.commit()
    assert finalize_jobs(session, [second], settings=get_settings()) == {second: "cancelled"}
    assert open_holds(session, tenant.id) == 0
    assert session.get_one(BudgetHold, second).released_at is not None
    view = api.get(f"/v1/jobs/{first}", headers={"Authorization": f"Bearer {key}"}).json()
    assert view["budget_hold"]["status"] == "released"
    assert view["tenant_month_spend_usd"] == "0.065000000"


def test_concurrent_submissions_never_over_admit(
    api: TestClient, key: str, session: Session, tenant: Tenant
) -> None:
    codes: list[int] = []
    lock = threading.Lock()

    def submit() -> None:
        status = _post(api, key).status_code
        with lock:
            codes.append(status)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [200] * 5 + [402] * 3  # 5 * 0.18128 fits $1, a 6th does not
    assert open_holds(session, tenant.id) == 5 * HOLD <= D("1")


def test_the_totals_match_the_open_holds_and_reconcile_releases_a_missed_one(
    api: TestClient, key: str, session: Session, tenant: Tenant
) -> None:
    """Admission reads two running totals, not the holds: they must always equal the sum of the
    open holds. A job that ended without its release (a path that missed it) is released by the
    sweep's reconcile, and its room comes back."""
    ids = [_post(api, key).json()["id"] for _ in range(5)]
    assert _post(api, key).status_code == 402  # 5 holds fill the $1 budget

    def summed() -> D:
        session.expire_all()
        return D(
            session.execute(
                select(func.coalesce(func.sum(BudgetHold.amount), 0)).where(
                    BudgetHold.tenant_id == tenant.id, BudgetHold.released_at.is_(None)
                )
            ).scalar_one()
        )

    assert open_holds(session, tenant.id) == summed() == 5 * HOLD
    session.execute(update(Job).where(Job.id == ids[0]).values(status="failed"))
    session.commit()
    assert open_holds(session, tenant.id) == 5 * HOLD  # not released yet: still no room
    assert _post(api, key).status_code == 402
    assert reconcile(session, lease_seconds=60) >= 1
    session.commit()
    assert open_holds(session, tenant.id) == summed() == 4 * HOLD
    assert _post(api, key).status_code == 200
    assert open_holds(session, tenant.id) == summed() == 5 * HOLD


def test_spent_only_mode_and_no_budget(
    api: TestClient, key: str, session: Session, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LONGHAUL_BUDGET_MODE", "spent-only")
    get_settings.cache_clear()
    try:
        big = {**BODY, "max_output_tokens": 100_000}  # may cost $3: admitted, nothing spent yet
        assert _post(api, key, big).status_code == 200
        assert open_holds(session, tenant.id) == 0
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    set_budget(session, tenant_name=tenant.name, usd=None)
    session.commit()
    assert _post(api, key, {**BODY, "max_output_tokens": 100_000}).status_code == 200
    assert open_holds(session, tenant.id) == 0


def test_a_create_that_loses_an_idempotency_race_keeps_no_admission(
    api: TestClient, key: str, session: Session, tenant: Tenant
) -> None:
    """Two creates with one Idempotency-Key that both pass the replay check: the loser's
    statement admits it, finds the key's job stored and inserts neither job nor hold, so its
    admission is taken back and the totals still equal the open holds."""
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "race-1"}
    first = api.post("/v1/responses", json=BODY, headers=headers)
    assert first.status_code == 200
    stored = session.get_one(Job, first.json()["id"])
    row = {c.name: getattr(stored, attr) for attr, c in Job.__mapper__.columns.items()}
    row["id"] = "job_racer0000000000000000"
    hold = plan_hold(session, tenant, stored)
    assert hold is not None and hold.amount == HOLD
    assert insert_held(session, tenant, row, hold) is False
    session.commit()
    assert session.get(Job, row["id"]) is None
    assert open_holds(session, tenant.id) == HOLD  # one job, one hold: the loser's taken back
    assert _jobs(session, tenant) == 1
    replay = api.post("/v1/responses", json=BODY, headers=headers)
    assert replay.status_code == 200 and replay.json()["id"] == stored.id


def test_a_streamed_create_that_does_not_fit_stores_nothing(
    api: TestClient, key: str, session: Session, tenant: Tenant
) -> None:
    """A streamed create writes its job, hold and stream in one transaction: refused, none of
    them is left."""
    for _ in range(5):
        assert _post(api, key).status_code == 200  # the $1 budget is full
    refused = _post(api, key, {**BODY, "stream": True})
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert _jobs(session, tenant) == 5
    assert open_holds(session, tenant.id) == 5 * HOLD

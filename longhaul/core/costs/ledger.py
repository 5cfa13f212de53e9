"""Write a job's cost ledger once, and summarise it for the job view and the webhook.

``write_ledger`` runs inside finalize's transaction and only flushes. It locks the job row, writes
nothing if the job already has lines, and inserts with ``ON CONFLICT (job_id, item) DO NOTHING``:
running finalize again (even concurrently, even with a different response) never adds or changes a
line; the first committed run's prices stand.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core.costs.alerts import check_budget_alerts
from longhaul.core.costs.budgets import add_spend
from longhaul.core.costs.holds import release_holds
from longhaul.core.models import Job, ToolCall
from longhaul.core.models.costs import LedgerLine
from longhaul.core.pricing import price_response
from longhaul.core.pricing.attribution import Attribution, attribute, call_times
from longhaul.core.pricing.engine import PricedResponse
from longhaul.core.pricing.lines import PricedLine

CURRENCY = "USD"
# Lines of an orphaned upstream response (a duplicate create, core/jobs/orphans.py): on the job's
# ledger beside its own, never in place of them.
DUPLICATE_KIND = "duplicate"


def write_ledger(session: Session, job: Job, response: dict[str, Any]) -> None:
    """Price ``response`` for ``job`` and insert its ledger lines (flush only, idempotent)."""
    # Serialise finalizers of this job (the lead's status CAS updates the same row next).
    session.execute(select(Job.id).where(Job.id == job.id).with_for_update())
    own = select(LedgerLine.id).where(
        LedgerLine.job_id == job.id, LedgerLine.kind != DUPLICATE_KIND
    )
    if session.execute(own.limit(1)).first():
        return
    priced = price_for_job(job, response)
    split = attribute(priced.lines, response.get("output") or [])
    rows = [
        line_row(
            job,
            priced,
            line,
            details={
                **line.details,
                **({"notes": priced.notes} if priced.notes else {}),
                **({"unattributed": True} if line.item in split.unattributed else {}),
            },
        )
        for line in priced.lines
    ]
    if insert_lines(session, rows):
        check_budget_alerts(session, job)  # reads the rollup just moved (its row is locked)
    release_holds(session, [job.id])  # the spend takes the hold's place, in this transaction
    _record_call_costs(session, job.id, response.get("output") or [], split)
    session.flush()


def price_for_job(job: Job, response: dict[str, Any]) -> PricedResponse:
    """``response`` priced as ``job`` asked for it (its request, time and completion window)."""
    return price_response(
        response,
        request=job.request_body or {},
        requested_at=job.created_at,
        completion_window=job.completion_window,
    )


def line_row(job: Job, priced: PricedResponse, line: PricedLine, **values: Any) -> dict[str, Any]:
    """The ``ledger_lines`` row of one priced line of ``job``; ``values`` override columns."""
    return {
        "job_id": job.id,
        "tenant_id": job.tenant_id,
        "item": line.item,
        "kind": line.kind,
        "tool": line.tool,
        "model": priced.model,
        "service_tier": priced.service_tier,
        "completion_window": priced.completion_window,
        "upstream_id": job.upstream_id,
        "quantity": line.quantity,
        "unit": line.unit,
        "unit_price": line.unit_price,
        "per": line.per,
        "amount": line.amount,
        "currency": CURRENCY,
        "status": "priced" if line.priced else "unpriced",
        "unpriced_reason": line.unpriced_reason,
        "price_source": line.price_source,
        "effective_from": line.effective_from,
        "priced_at": job.created_at,
        "details": line.details,
        **values,
    }


def insert_lines(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert ledger rows once (``ON CONFLICT (job_id, item) DO NOTHING``) and move the month-spend
    rollup by exactly the lines inserted, in this transaction. Returns how many were inserted."""
    if not rows:
        return 0
    inserted = session.execute(
        insert(LedgerLine)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["job_id", "item"])
        .returning(LedgerLine.tenant_id, LedgerLine.created_at, LedgerLine.amount)
    ).all()
    add_spend(session, inserted)
    return len(inserted)


def _record_call_costs(
    session: Session, job_id: str, output: list[Any], split: Attribution
) -> None:
    """Each tool call's share and timing onto its ``tool_calls`` row (finalize inserted the rows
    just before, in this transaction)."""
    params = []
    for index, item in enumerate(output):
        if not isinstance(item, dict):
            continue
        call = split.calls.get(index)
        started, ended = call_times(item)
        if call is None and started is None and ended is None:
            continue
        params.append(
            {
                "j": job_id,
                "i": index,
                "cost": call.amount if call else None,
                "cost_details": (
                    {k: None if v is None else _money(v) for k, v in call.shares.items()}
                    if call
                    else None
                ),
                "started_at": started,
                "ended_at": ended,
            }
        )
    if params:
        stmt = (
            update(ToolCall)
            .where(ToolCall.job_id == bindparam("j"), ToolCall.output_index == bindparam("i"))
            .values(
                cost=bindparam("cost"),
                cost_details=bindparam("cost_details"),
                started_at=bindparam("started_at"),
                ended_at=bindparam("ended_at"),
            )
        )
        session.connection().execute(stmt, params)


def ledger_lines(session: Session, job_id: str) -> list[LedgerLine]:
    return list(
        session.execute(
            select(LedgerLine).where(LedgerLine.job_id == job_id).order_by(LedgerLine.id)
        ).scalars()
    )


def _money(value: Decimal) -> str:
    return f"{value:.6f}"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def cost_summary(session: Session, job: Job) -> dict[str, Any] | None:
    """Total, breakdown by kind and per tool, and the lines; ``None`` before the ledger exists.

    Amounts are strings (exact decimals, USD to 1e-6). ``complete`` is false when any line is
    unpriced (the total then covers the priced lines only) or priced by a fallback (listed in
    ``fallbacks``, e.g. a service tier genai-prices does not model, priced at standard).
    """
    return summarize_lines(ledger_lines(session, job.id))


def summarize_lines(lines: list[LedgerLine]) -> dict[str, Any] | None:
    """``cost_summary`` of one job's lines (ordered by id), e.g. loaded for a page of jobs."""
    if not lines:
        return None
    total = Decimal(0)
    by_kind: dict[str, Decimal] = defaultdict(Decimal)
    by_tool: dict[str, Decimal] = defaultdict(Decimal)
    unpriced = []
    fallbacks = []
    for line in lines:
        reason = fallback_reason(line)
        if reason:
            fallbacks.append({"item": line.item, "kind": line.kind, "reason": reason})
        if line.amount is None:
            unpriced.append({"item": line.item, "kind": line.kind, "reason": line.unpriced_reason})
            continue
        total += line.amount
        by_kind[line.kind] += line.amount
        if line.tool:
            by_tool[line.tool] += line.amount
    first = lines[0]
    return {
        "currency": CURRENCY,
        "total": _money(total),
        "complete": not unpriced and not fallbacks,
        "model": first.model,
        "service_tier": first.service_tier,
        "completion_window": first.completion_window,
        "by_kind": {k: _money(v) for k, v in by_kind.items()},
        "by_tool": {k: _money(v) for k, v in by_tool.items()},
        "unpriced": unpriced,
        "fallbacks": fallbacks,
        # tool lines no output item stands for: their amount is in no tool call's cost
        "unattributed": [line.item for line in lines if (line.details or {}).get("unattributed")],
        "lines": [_line_view(line) for line in lines],
    }


def call_cost(call: ToolCall) -> dict[str, Any]:
    """A tool call's share of the ledger and its timing, for the job view."""
    return {
        "cost": None if call.cost is None else _money(call.cost),
        "cost_details": call.cost_details,
        "started_at": call.started_at.isoformat() if call.started_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
    }


def fallback_reason(line: LedgerLine) -> str | None:
    """Why a stored line was priced by a fallback (lines written before the flag existed carry
    ``tier_not_modelled`` only)."""
    details = line.details or {}
    if details.get("fallback"):
        return str(details["fallback"])
    if details.get("tier_not_modelled"):
        return f"service tier {line.service_tier} not modelled: standard price"
    return None


def _line_view(line: LedgerLine) -> dict[str, Any]:
    return {
        "item": line.item,
        "kind": line.kind,
        "tool": line.tool,
        "quantity": _plain(line.quantity),
        "unit": line.unit,
        "unit_price": None if line.unit_price is None else _plain(line.unit_price),
        "per": line.per,
        "amount": None if line.amount is None else _money(line.amount),
        "status": line.status,
        "unpriced_reason": line.unpriced_reason,
        "fallback": fallback_reason(line),
        "price_source": line.price_source,
        "effective_from": line.effective_from.isoformat() if line.effective_from else None,
    }

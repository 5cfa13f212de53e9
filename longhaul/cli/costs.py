"""`longhaul costs` (usage and cost report) and `longhaul budgets set|show` (monthly budgets)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("costs", help="cost, tokens and tool calls from the ledger")
    p.add_argument("--tenant", default=None, help="tenant name (default: all tenants)")
    p.add_argument("--since", type=date.fromisoformat, default=None, help="first UTC day")
    p.add_argument("--until", type=date.fromisoformat, default=None, help="last UTC day")
    p.add_argument(
        "--group-by", default="day,model,tool", help="comma list of day,model,tool,tenant"
    )
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.set_defaults(func=_costs)

    budgets = sub.add_parser("budgets", help="monthly budgets per tenant")
    bsub = budgets.add_subparsers(dest="budgets_command", required=True)
    s = bsub.add_parser("set", help="set a tenant's monthly budget in USD")
    s.add_argument("--tenant", required=True, help="tenant name (created if new)")
    group = s.add_mutually_exclusive_group(required=True)
    group.add_argument("--usd", type=_usd, help="monthly budget in USD, e.g. 100")
    group.add_argument("--clear", action="store_true", help="remove the budget")
    s.set_defaults(func=_set_budget)
    show = bsub.add_parser("show", help="budget and spend this month")
    show.add_argument("--tenant", required=True, help="tenant name")
    show.set_defaults(func=_show_budget)


def _usd(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not an amount: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise argparse.ArgumentTypeError("the budget must be >= 0")
    return amount


def _costs(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from longhaul.core.costs import usage
    from longhaul.core.db import session_scope
    from longhaul.core.models import Tenant

    groups = usage.parse_group_by(args.group_by)
    start = args.since or usage.month_start()
    end = args.until or datetime.now(UTC).date()
    with session_scope() as session:
        tenant_id = None
        if args.tenant:
            tenant = session.execute(
                select(Tenant).where(Tenant.name == args.tenant)
            ).scalar_one_or_none()
            if tenant is None:
                print(f"no tenant named {args.tenant!r}", file=sys.stderr)
                return 1
            tenant_id = tenant.id
        rows = usage.usage_report(
            session, start=start, end=end, group_by=groups, tenant_id=tenant_id
        )
    if args.csv:
        sys.stdout.write(usage.to_csv(rows, groups))
        return 0
    print(f"Usage {start} .. {end} (UTC), USD")
    print(_table(rows, [*groups, *usage.FIELDS]))
    print(f"total cost: ${usage.total_cost(rows)}")
    return 0


def _table(rows: list[dict], columns: list[str]) -> str:
    cells = [[str(c) for c in columns]] + [
        ["" if r.get(c) is None else str(r[c]) for c in columns] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) if rows else lines[0] + "\n(no usage in this range)"


def _set_budget(args: argparse.Namespace) -> int:
    from longhaul.core.costs.budgets import set_budget
    from longhaul.core.costs.money import dollars
    from longhaul.core.db import session_scope

    with session_scope() as session:
        tenant = set_budget(session, tenant_name=args.tenant, usd=None if args.clear else args.usd)
        budget = tenant.monthly_budget_usd
    print(f"{args.tenant}: monthly budget {'none' if budget is None else dollars(budget)}")
    return 0


def _show_budget(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from longhaul.core.costs.budgets import month_spend
    from longhaul.core.costs.money import dollars
    from longhaul.core.db import session_scope
    from longhaul.core.models import Tenant

    with session_scope() as session:
        tenant = session.execute(
            select(Tenant).where(Tenant.name == args.tenant)
        ).scalar_one_or_none()
        if tenant is None:
            print(f"no tenant named {args.tenant!r}", file=sys.stderr)
            return 1
        spent = month_spend(session, tenant.id)
        budget = tenant.monthly_budget_usd
    limit = "none" if budget is None else dollars(budget)
    print(f"{args.tenant}: spent ${spent:.6f} this month (UTC); budget {limit}")
    return 0

"""`longhaul keys create|list|revoke`: API keys per tenant (only a key's prefix is ever shown
again after `create` prints it once)."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = sub.add_parser("keys", help="manage API keys")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    p = ksub.add_parser("create", help="create an API key (printed once)")
    p.add_argument("--tenant", required=True, help="tenant name (created if new)")
    p.add_argument("--name", default=None, help="a label for the key")
    p.add_argument("--expires-in", type=_days, default=None, metavar="DAYS",
                   help="refuse the key after this many days (default: never)")  # fmt: skip
    p.set_defaults(func=_create)

    p = ksub.add_parser("list", help="list keys (id, tenant, prefix, label, dates)")
    p.add_argument("--tenant", default=None, help="only this tenant's keys")
    p.add_argument("--all", action="store_true", help="include revoked and expired keys")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=_list)

    p = ksub.add_parser("revoke", help="revoke a key by id (key_…) or by its prefix (lh_sk_…)")
    p.add_argument("key", help="key id or the key's first 12 characters (or the whole key)")
    p.set_defaults(func=_revoke)


def _days(value: str) -> float:
    days = float(value)
    if not days > 0:
        raise argparse.ArgumentTypeError("must be a positive number of days")
    return days


def _create(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from longhaul.core.db import session_scope
    from longhaul.core.keys import create_key
    from longhaul.core.models import utcnow

    expires = utcnow() + timedelta(days=args.expires_in) if args.expires_in else None
    with session_scope() as session:
        key = create_key(session, tenant_name=args.tenant, name=args.name, expires_at=expires)
    print(key)
    return 0


def _list(args: argparse.Namespace) -> int:
    from longhaul.core.db import session_scope
    from longhaul.core.keys import list_keys

    with session_scope() as session:
        keys = list_keys(session, tenant_name=args.tenant, include_revoked=args.all)
    if args.json:
        for k in keys:
            dates = {f: (v.isoformat() if (v := getattr(k, f)) else None)
                     for f in ("created_at", "revoked_at", "expires_at")}  # fmt: skip
            print(json.dumps({**k.__dict__, **dates}))
        return 0
    if not keys:
        print("no keys" + (f" for tenant {args.tenant!r}" if args.tenant else ""))
        return 0
    header = ("ID", "TENANT", "PREFIX", "NAME", "CREATED", "EXPIRES", "REVOKED")
    rows: list[tuple[str, ...]] = [header]
    for k in keys:
        when = [f"{d:%Y-%m-%d %H:%M}" if d else "" for d in (k.created_at, k.expires_at,
                                                             k.revoked_at)]  # fmt: skip
        rows.append((k.id, k.tenant, k.prefix + "…", k.name or "", *when))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from longhaul.core.db import session_scope
    from longhaul.core.keys import revoke_key

    with session_scope() as session:
        info = revoke_key(session, args.key)
    if info is None:
        print(f"longhaul: no single key matches {args.key[:12]!r}", file=sys.stderr)
        return 1
    print(f"revoked {info.id} ({info.prefix}…, tenant {info.tenant})")
    return 0

"""`longhaul upstreams add|list|show|update|rm|use|rotate-keys|new-key`: upstreams as data.
Secrets (API key, custom headers) are stored encrypted with LONGHAUL_SECRET_KEYS and never
printed again."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ups = sub.add_parser("upstreams", help="manage upstreams (OpenAI, Azure, compatible)")
    usub = ups.add_subparsers(dest="upstreams_command", required=True)

    p = usub.add_parser("add", help="add a named upstream")
    p.add_argument("name")
    p.add_argument("--base-url", required=True, help="e.g. https://RES.openai.azure.com"
                   "/openai?api-version=2025-04-01-preview (the query stays a query)")  # fmt: skip
    p.add_argument("--tenant", default=None, help="owned by this tenant (its own key)")
    _config_args(p)
    p.set_defaults(func=_guard(_add))

    p = usub.add_parser("update", help="change an upstream (omitted options stay)")
    p.add_argument("name")
    p.add_argument("--base-url", default=None)
    _config_args(p)
    p.set_defaults(func=_guard(_update))

    p = usub.add_parser("list", help="list upstreams (no secrets)")
    p.add_argument("--tenant", default=None, help="only this tenant's own upstreams")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=_guard(_list))

    p = usub.add_parser("show", help="one upstream as JSON (no secrets)")
    p.add_argument("name")
    p.set_defaults(func=_guard(_show))

    p = usub.add_parser("rm", help="remove an upstream (refused while its jobs run)")
    p.add_argument("name")
    p.set_defaults(func=_guard(_rm))

    p = usub.add_parser("use", help="set a tenant's default upstream")
    p.add_argument("tenant")
    p.add_argument("name", nargs="?", default=None,
                   help="upstream name; omit to go back to the environment's")  # fmt: skip
    p.set_defaults(func=_guard(_use))

    p = usub.add_parser("rotate-keys", help="re-encrypt every secret under the first key")
    p.set_defaults(func=_guard(_rotate))

    p = usub.add_parser("new-key", help="print a new key for LONGHAUL_SECRET_KEYS")
    p.set_defaults(func=_new_key, no_stack=True)


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=("openai", "azure", "compatible"), default=None)
    p.add_argument("--auth", dest="auth_style", choices=("bearer", "api-key", "headers"),
                   default=None, help="default: api-key for azure, else bearer")  # fmt: skip
    p.add_argument("--api-key", default=None,
                   help="the upstream key ('-' reads it from stdin; '' removes it)")  # fmt: skip
    p.add_argument("--header", action="append", default=None, metavar="NAME=VALUE",
                   help="a header sent on every request (repeatable; encrypted)")  # fmt: skip
    p.add_argument("--query", action="append", default=None, metavar="NAME=VALUE",
                   help="a query parameter on every request (api-version=…)")  # fmt: skip
    p.add_argument("--organization", default=None)
    p.add_argument("--project", default=None)
    p.add_argument("--timeout", dest="timeout_seconds", type=float, default=None)
    p.add_argument("--models", default=None, metavar="PATTERNS",
                   help="comma list of model globs routed here, e.g. 'gpt-5*,o4-*'")  # fmt: skip


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from longhaul.core.errors import LonghaulError

        try:
            return func(args)
        except LonghaulError as exc:
            print(f"longhaul: {exc.message}", file=sys.stderr)
            return 1

    return run


def _pairs(values: list[str] | None, what: str) -> dict[str, str] | None:
    if values is None:
        return None
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"longhaul: --{what} wants NAME=VALUE, not {item!r}")
        out[name.strip()] = value
    return out


def _input(args: argparse.Namespace, **extra: Any) -> Any:
    from longhaul.core.upstreams.service import UpstreamInput

    key = args.api_key
    if key == "-":
        key = sys.stdin.readline().strip()
    return UpstreamInput(
        kind=args.kind,
        base_url=args.base_url,
        auth_style=args.auth_style,
        api_key=key,
        headers=_pairs(args.header, "header"),
        query=_pairs(args.query, "query"),
        organization=args.organization,
        project=args.project,
        timeout_seconds=args.timeout_seconds,
        model_patterns=[m.strip() for m in args.models.split(",")] if args.models else None,
        **extra,
    )


def _add(args: argparse.Namespace) -> int:
    from longhaul.core.config import get_settings
    from longhaul.core.db import session_scope
    from longhaul.core.upstreams.service import add_upstream

    with session_scope() as session:
        data = _input(args, name=args.name, tenant=args.tenant)
        row = add_upstream(session, data, settings=get_settings())
        print(f"added upstream {row.name} ({row.id}, {row.kind}, {row.auth_style})")
    return 0


def _update(args: argparse.Namespace) -> int:
    from longhaul.core.config import get_settings
    from longhaul.core.db import session_scope
    from longhaul.core.upstreams.service import update_upstream

    with session_scope() as session:
        row = update_upstream(session, args.name, _input(args), settings=get_settings())
        print(f"updated upstream {row.name} (revision {row.revision})")
    return 0


def _views(session: Any, rows: list[Any]) -> list[dict[str, Any]]:
    from longhaul.core.models import Tenant
    from longhaul.core.upstreams.service import describe

    names = {t.id: t.name for t in session.query(Tenant).filter(
        Tenant.id.in_({r.tenant_id for r in rows if r.tenant_id}))}  # fmt: skip
    return [describe(r, names.get(r.tenant_id)) for r in rows]


def _list(args: argparse.Namespace) -> int:
    from longhaul.core.db import session_scope
    from longhaul.core.upstreams.service import list_upstreams

    with session_scope() as session:
        views = _views(session, list_upstreams(session, tenant=args.tenant))
    if args.json:
        for v in views:
            print(json.dumps(v))
        return 0
    if not views:
        print("no upstreams (every job uses the environment's: LONGHAUL_OPENAI_*)")
        return 0
    rows = [("NAME", "KIND", "AUTH", "BASE URL", "QUERY", "MODELS", "TENANT")]
    for v in views:
        query = "&".join(f"{k}={val}" for k, val in v["query"].items())
        rows.append((v["name"], v["kind"], v["auth_style"], v["base_url"], query,
                     ",".join(v["model_patterns"]), v["tenant"] or ""))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(val.ljust(w) for val, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _show(args: argparse.Namespace) -> int:
    from longhaul.core.db import session_scope
    from longhaul.core.upstreams.service import get_upstream

    with session_scope() as session:
        print(json.dumps(_views(session, [get_upstream(session, args.name)])[0], indent=2))
    return 0


def _rm(args: argparse.Namespace) -> int:
    from longhaul.core.db import session_scope
    from longhaul.core.upstreams.service import remove_upstream

    with session_scope() as session:
        row = remove_upstream(session, args.name)
    print(f"removed upstream {row.name} ({row.id})")
    return 0


def _use(args: argparse.Namespace) -> int:
    from longhaul.core.db import session_scope
    from longhaul.core.upstreams.service import set_tenant_default

    with session_scope() as session:
        set_tenant_default(session, args.tenant, args.name)
    print(f"tenant {args.tenant} now uses {args.name or 'the environment upstream'} by default")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from longhaul.core.config import get_settings
    from longhaul.core.db import session_scope
    from longhaul.core.upstreams.service import rotate_secrets

    with session_scope() as session:
        count = rotate_secrets(session, settings=get_settings())
    print(f"re-encrypted the secrets of {count} upstream(s) under the first key")
    return 0


def _new_key(args: argparse.Namespace) -> int:
    from longhaul.core.upstreams.secrets import new_key

    print(new_key())
    return 0

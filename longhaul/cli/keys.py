"""`longhaul keys create --tenant NAME`: make a tenant (if new) and print a new API key once."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = sub.add_parser("keys", help="manage API keys")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    p = ksub.add_parser("create", help="create an API key (printed once)")
    p.add_argument("--tenant", required=True, help="tenant name (created if new)")
    p.add_argument("--name", default=None, help="a label for the key")
    p.set_defaults(func=_create)


def _create(args: argparse.Namespace) -> int:
    from longhaul.core.auth import create_api_key
    from longhaul.core.db import session_scope

    with session_scope() as session:
        key = create_api_key(session, tenant_name=args.tenant, name=args.name)
    print(key)
    return 0

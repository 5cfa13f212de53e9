"""`longhaul relay`: live event streams of streaming jobs; `longhaul streams set`: which of a
tenant's jobs stream (see docs/streaming.md)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("relay", help="run the event relay (asyncio; upstream streams of jobs)")
    p.set_defaults(func=_relay)

    streams = sub.add_parser("streams", help="which jobs of a tenant stream their events")
    ssub = streams.add_subparsers(dest="streams_command", required=True)
    s = ssub.add_parser("set", help="set a tenant's own stream-all setting")
    s.add_argument("--tenant", required=True, help="tenant name (created if new)")
    group = s.add_mutually_exclusive_group(required=True)
    group.add_argument("--all", dest="value", action="store_const", const=True,
                       help="stream every job of the tenant")  # fmt: skip
    group.add_argument("--requested", dest="value", action="store_const", const=False,
                       help="stream only `stream: true` requests")  # fmt: skip
    group.add_argument("--default", dest="value", action="store_const", const=None,
                       help="follow LONGHAUL_STREAM_ALL")  # fmt: skip
    s.set_defaults(func=_set_streams)


def _relay(args: argparse.Namespace) -> int:
    from longhaul.worker.relay import run_relay

    return run_relay()


def _set_streams(args: argparse.Namespace) -> int:
    from longhaul.core.db import session_scope
    from longhaul.core.streams.policy import set_tenant_stream_all

    with session_scope() as session:
        tenant = set_tenant_stream_all(session, args.tenant, args.value)
        value = tenant.stream_all
    said = {True: "every job", False: "stream: true requests only", None: "LONGHAUL_STREAM_ALL"}
    print(f"{args.tenant}: streams {said[value]}")
    return 0

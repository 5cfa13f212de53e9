"""`longhaul relay`: live event streams of streaming jobs (see docs/streaming.md)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("relay", help="run the event relay (asyncio; upstream streams of jobs)")
    p.set_defaults(func=_relay)


def _relay(args: argparse.Namespace) -> int:
    from longhaul.worker.relay import run_relay

    return run_relay()

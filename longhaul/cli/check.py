"""`longhaul check [database] [redis] [storage] [beat]`: the startup checks on demand, for
container healthchecks and probes. Exit 0 when all pass; else one line and exit 2."""

from __future__ import annotations

import argparse
import sys
import time

CHOICES = ("database", "redis", "storage", "beat")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "check", help="check PostgreSQL, Redis, storage (default) or that beat runs the schedule"
    )
    p.add_argument(
        "what", nargs="*", metavar="WHAT",
        help=f"any of {', '.join(CHOICES)} (default: database redis storage)",
    )  # fmt: skip
    p.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    from longhaul.core import checks

    unknown = [w for w in args.what if w not in CHOICES]
    if unknown:
        print(f"longhaul check: unknown {', '.join(unknown)} (choose from {', '.join(CHOICES)})",
              file=sys.stderr)  # fmt: skip
        return 2
    for name in args.what or ("database", "redis", "storage"):
        started = time.monotonic()
        if name == "beat":
            problem = beat_problem()
            if problem:
                print(f"longhaul: {problem}", file=sys.stderr)
                return 2
        else:
            checks.CHECKS[name]()
        print(f"{name} ok ({time.monotonic() - started:.2f}s)")
    return 0


def beat_problem(now: float | None = None) -> str | None:
    """None when some beat sent the sweep recently (RedBeat records each run in Redis)."""
    import json
    from datetime import UTC

    import redis
    from redbeat.decoder import RedBeatJSONDecoder

    from longhaul.core.config import get_settings

    settings = get_settings()
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        meta = client.hget("longhaul:redbeat:sweep-due-polls", "meta")
    finally:
        client.close()
    if not meta:
        return "beat has never sent the sweep (is `longhaul beat` running?)"
    last = json.loads(meta, cls=RedBeatJSONDecoder).get("last_run_at")
    if last is None:
        return "beat has never sent the sweep (is `longhaul beat` running?)"
    age = (now or time.time()) - last.astimezone(UTC).timestamp()
    limit = max(60.0, 10 * settings.sweep_interval_seconds)
    if age > limit:
        return f"beat last sent the sweep {age:.0f}s ago (limit {limit:.0f}s)"
    return None

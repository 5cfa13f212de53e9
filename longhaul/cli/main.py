"""`longhaul` command line. Each sub-module adds its commands through ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

COMMAND_MODULES = (
    "serve",
    "check",
    "keys",
    "jobs",
    "stack",
    "demo",
    "costs",
    "webhooks",
    "relay",
    "upstreams",
)
# Commands that work on a stack's data: they use the running `longhaul up` stack for every
# setting not configured explicitly (see longhaul.cli.context).
STACK_COMMANDS = frozenset(
    {"keys", "jobs", "costs", "budgets", "webhooks", "migrate", "upstreams", "streams"}
)


def _version() -> str:
    try:
        return version("longhaul")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="longhaul", description=__doc__)
    parser.add_argument("--version", action="version", version=f"longhaul {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"longhaul.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from longhaul.cli.context import one_line_errors, use_running_stack

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra  # a passthrough command (simulator, worker) parses its own flags

    def run() -> int:
        if args.command in STACK_COMMANDS and not getattr(args, "no_stack", False):
            use_running_stack(require_database=args.command != "jobs")
        return int(args.func(args) or 0)

    return one_line_errors(run)


if __name__ == "__main__":
    sys.exit(main())

"""`longhaul` command line. Each sub-module adds its commands through ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = ("serve", "keys", "stack", "demo", "costs", "webhooks")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="longhaul", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"longhaul.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra  # a passthrough command (the simulator) parses its own flags
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

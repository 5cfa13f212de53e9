"""``python -m longhaul.simulator``: run the Responses API simulator until interrupted.

Prints one JSON line ``{"url": "http://HOST:PORT/v1"}`` to stdout once listening. Every flag
defaults to its ``LONGHAUL_SIM_*`` environment variable (see ``config.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
from typing import Any

from .config import SimulatorConfig
from .server import SimulatorHandle


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="longhaul simulator", description="OpenAI Responses API simulator"
    )
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port; 0 picks a free one (default 0)")
    parser.add_argument("--queued-seconds", type=float, help="time spent queued (default 0.2)")
    parser.add_argument("--run-seconds", type=float, help="time spent in_progress (default 1.0)")
    parser.add_argument(
        "--poll-after-ms", type=int, help="send openai-poll-after-ms on retrieve (default off)"
    )
    parser.add_argument("--webhook-url", help="POST response.* events here when jobs finish")
    parser.add_argument("--webhook-secret", help="whsec_... secret used to sign webhooks")
    parser.add_argument("--webhook-attempts", type=int, help="delivery attempts (default 3)")
    parser.add_argument(
        "--stream-resume-seconds",
        type=float,
        help="age after which GET ?stream=true is refused (default 300, as OpenAI)",
    )
    parser.add_argument(
        "--no-auth",
        dest="require_auth",
        action="store_const",
        const=False,
        help="accept requests without an Authorization header",
    )
    parser.add_argument(
        "--key-scoped",
        action="store_const",
        const=True,
        help="a response is seen only by the key that created it (one project per key)",
    )
    parser.add_argument("--log-level", default="WARNING")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    overrides: dict[str, Any] = {
        k: v for k, v in vars(args).items() if k != "log_level" and v is not None
    }
    config = SimulatorConfig.from_env(**overrides)
    handle = SimulatorHandle(config)

    def _stop(signum: int, frame: object) -> None:
        threading.Thread(target=handle.stop, daemon=True).start()

    for sig in (signal.SIGINT, signal.SIGTERM):
        # Outside the main thread signal() raises ValueError; the caller handles shutdown.
        with contextlib.suppress(ValueError):
            signal.signal(sig, _stop)
    print(json.dumps({"url": handle.url}), flush=True)
    try:
        handle.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        handle.simulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

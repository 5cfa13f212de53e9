"""`longhaul relay`: the asyncio process that holds upstream event streams (never a Celery pool
slot). The logic is ``core.streams.relay``; this adapter installs the Celery sender (a terminal
stream event sends the job's poll at once, after its commit) and handles the signals."""

from __future__ import annotations

import asyncio
import logging
import signal

from longhaul.core.config import get_settings
from longhaul.core.streams.relay import Relay
from longhaul.worker import app as _celery_app  # noqa: F401  installs the message sender

log = logging.getLogger("longhaul.relay")


def run_relay() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # not a line per upstream request
    asyncio.run(_main())
    return 0


async def _main() -> None:
    settings = get_settings()
    relay = Relay(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("relay %s started (at most %d streams)", relay.owner, settings.relay_max_streams)
    await relay.run(stop)
    log.info("relay %s stopped", relay.owner)

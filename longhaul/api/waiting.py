"""Plain requests (no ``background``) wait for their job here: asynchronously, on the event loop,
never in a thread or a worker slot. One task per API process checks every waiting job in one
query per ``LONGHAUL_SYNC_POLL_SECONDS``, so a thousand waiting requests cost one small read per
tick, not a thousand."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial

from fastapi import Request
from sqlalchemy.orm import Session

from longhaul.api.db import run_db
from longhaul.core.config import get_settings
from longhaul.core.streams.jobs import finished

log = logging.getLogger(__name__)
DISCONNECT_CHECK_SECONDS = 1.0


class Waiters:
    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return sum(len(f) for f in self._waiting.values())

    async def wait(self, request: Request, job_id: str, seconds: float) -> str:
        """Until the job ends (``ended``), ``seconds`` pass (``timeout``) or the client goes
        (``gone``). The job itself goes on in every case."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.setdefault(job_id, set()).add(future)
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._check(), name="sync-waiters")
        deadline = loop.time() + seconds
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return "timeout"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        asyncio.shield(future), min(remaining, DISCONNECT_CHECK_SECONDS)
                    )
                    return "ended"
                if await request.is_disconnected():
                    return "gone"
        finally:
            futures = self._waiting.get(job_id)
            if futures is not None:
                futures.discard(future)
                if not futures:
                    del self._waiting[job_id]

    async def _check(self) -> None:
        interval = get_settings().sync_poll_seconds
        while self._waiting:
            await asyncio.sleep(interval)
            ids = list(self._waiting)
            try:
                ended = await run_db(partial(_finished, ids))
            except Exception as exc:  # overloaded or a lost connection: the next tick retries
                log.warning("checking waiting jobs failed: %s", exc)
                continue
            for job_id in ended:
                for future in self._waiting.pop(job_id, ()):
                    if not future.done():
                        future.set_result(None)


def _finished(ids: list[str], session: Session) -> dict[str, str | None]:
    return finished(session, ids)


waiters = Waiters()

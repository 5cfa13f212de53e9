"""Plain requests (no ``background``) wait for their job here: asynchronously, on the event loop,
never in a thread or a worker slot. One task per API process checks every waiting job in one
query per ``LONGHAUL_SYNC_POLL_SECONDS``, so a thousand waiting requests cost one small read per
tick, not a thousand, and renders the Responses of the jobs that ended in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from asyncio import FIRST_COMPLETED
from functools import partial
from typing import Any, Literal

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.api.db import run_db
from longhaul.core.config import get_settings
from longhaul.core.jobs.views import load_extras, response_view
from longhaul.core.models import Job
from longhaul.core.streams.jobs import finished

log = logging.getLogger(__name__)
RENDER_BATCH = 100
View = dict[str, Any]
Outcome = tuple[Literal["ended", "timeout", "gone"], View | None]


class Waiters:
    def __init__(self) -> None:
        # job id → the futures of the requests waiting for it, each with its base URL
        self._waiting: dict[str, dict[asyncio.Future[View | None], str]] = {}
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return sum(len(f) for f in self._waiting.values())

    async def wait(self, request: Request, job_id: str, seconds: float, link: str) -> Outcome:
        """Until the job ends (``ended``, with its Response view when the check rendered it),
        ``seconds`` pass (``timeout``) or the client goes (``gone``). The job goes on anyway.
        Nothing wakes a waiting request but these: no per-request timer loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[View | None] = loop.create_future()
        self._waiting.setdefault(job_id, {})[future] = link
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._check(), name="sync-waiters")
        # The body has been read, so the next ASGI message is the client's disconnect.
        gone = loop.create_task(_next_message(request))
        try:
            both: set[asyncio.Future[Any]] = {future, gone}
            await asyncio.wait(both, timeout=seconds, return_when=FIRST_COMPLETED)
            if future.done():
                return "ended", future.result()
            if gone.done() and not gone.cancelled() and gone.result()["type"] == "http.disconnect":
                return "gone", None
            return "timeout", None
        finally:
            gone.cancel()
            futures = self._waiting.get(job_id)
            if futures is not None:
                futures.pop(future, None)
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
            # Render the ended jobs' Responses in batches (two reads per batch, not per job).
            wanted = [
                (job_id, link)
                for job_id, status in ended.items()
                if status is not None
                for link in set(self._waiting.get(job_id, {}).values())
            ]
            for start in range(0, len(wanted), RENDER_BATCH):
                chunk = wanted[start : start + RENDER_BATCH]
                views: dict[tuple[str, str], View] = {}
                with contextlib.suppress(Exception):  # each request renders its own instead
                    views = await run_db(partial(_render, chunk))
                self._resolve({job_id for job_id, _ in chunk}, views)
            self._resolve(set(ended), {})  # deleted meanwhile: each request answers its 404

    def _resolve(self, job_ids: set[str], views: dict[tuple[str, str], View]) -> None:
        for job_id in job_ids:
            for future, link in self._waiting.pop(job_id, {}).items():
                if not future.done():
                    future.set_result(views.get((job_id, link)))


async def _next_message(request: Request) -> dict[str, Any]:
    return dict(await request.receive())


def _finished(ids: list[str], session: Session) -> dict[str, str | None]:
    return finished(session, ids)


def _render(wanted: list[tuple[str, str]], session: Session) -> dict[tuple[str, str], View]:
    jobs = {j.id: j for j in session.scalars(select(Job).where(Job.id.in_({i for i, _ in wanted})))}
    views = {}
    for link in {link for _, link in wanted}:
        batch = [jobs[i] for i, k in wanted if k == link and i in jobs]
        extras = load_extras(session, batch, link)
        for job in batch:
            views[(job.id, link)] = response_view(session, job, link, extras=extras[job.id])
    return views


waiters = Waiters()

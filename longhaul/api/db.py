"""How API requests reach PostgreSQL without ever stalling.

The rule: a request holds at most one pooled connection, only inside one worker thread, and
gives it back before that thread's work ends, so a connection is never held across an ``await``.
``run_db(fn)`` is that thread: it opens a session, calls ``fn(session)``, commits, closes.

Threads and connections are sized together: at most ``LONGHAUL_API_THREADS`` threads run database
work at once (anyio's default thread limiter, which FastAPI's sync routes use too, is set to the
same number), and the API's pool keeps exactly that many connections, so no thread ever waits for
a connection and no connection ever waits for a thread. A request that finds every thread busy
waits in line; when the line is ``LONGHAUL_API_QUEUE_LIMIT`` long, or its wait reaches
``LONGHAUL_API_QUEUE_SECONDS``, it gets a 503 with ``Retry-After`` instead of a stall. Only the
wait is bounded, never the work: a create that has started always finishes and answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

import anyio
import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker

from longhaul.core.config import get_settings
from longhaul.core.db import session_factory
from longhaul.core.errors import Transient

T = TypeVar("T")
RETRY_AFTER_SECONDS = 1


def sessions() -> sessionmaker[Session]:
    threads = get_settings().api_threads
    return session_factory(pool_size=threads, max_overflow=0, pool_pre_ping=False)


def size_thread_pool() -> None:
    """Call once on the event loop at startup: sync routes and dependencies share the bound."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = get_settings().api_threads


@lru_cache
def _runner() -> anyio.CapacityLimiter:
    # Threads are admitted by the default limiter (with a bounded wait); this one only runs them.
    return anyio.CapacityLimiter(10_000)


def overloaded() -> Transient:
    return Transient(
        "The server is overloaded; retry after a short wait.",
        retry_after=RETRY_AFTER_SECONDS,
        code="server_overloaded",
    )


async def in_thread(fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(*args)`` in a worker thread once one is free; 503 if the wait is too long."""
    settings = get_settings()
    limiter = anyio.to_thread.current_default_thread_limiter()
    if limiter.statistics().tasks_waiting >= settings.api_queue_limit:
        raise overloaded()
    try:
        limiter.acquire_nowait()  # the common case: a thread is free, no timed wait to set up
    except anyio.WouldBlock:
        acquired = False
        with anyio.move_on_after(settings.api_queue_seconds):
            await limiter.acquire()
            acquired = True
        if not acquired:
            raise overloaded() from None
    try:
        return await anyio.to_thread.run_sync(fn, *args, limiter=_runner())
    finally:
        limiter.release()


async def run_db(fn: Callable[[Session], T]) -> T:
    """``fn(session)`` in one worker thread, in one transaction committed (or rolled back) and
    closed before the thread returns."""
    return await in_thread(_in_transaction, fn)


@contextmanager
def autocommit_session() -> Iterator[Session]:
    """A session whose every statement is its own transaction: no BEGIN or COMMIT round trips.
    Only for work whose single write is one statement (the create's INSERT), where a wrapping
    transaction under READ COMMITTED would add two round trips and no guarantee."""
    engine = sessions().kw["bind"]
    with (
        engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
        Session(bind=connection, expire_on_commit=False) as session,
    ):
        yield session


def _in_transaction(fn: Callable[[Session], T]) -> T:
    with sessions()() as session:  # closing rolls back whatever fn left uncommitted on error
        result = fn(session)
        session.commit()
        return result

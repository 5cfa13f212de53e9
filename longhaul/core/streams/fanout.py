"""Fan-out of stored events to the API's subscribers over Redis pub/sub (docs/streaming.md says
why not LISTEN/NOTIFY). A message is only a fast path: it is published after the events are
committed, and a subscriber that misses one (Redis down, a gap in the numbers, a slow reader)
reads PostgreSQL instead, where every event is."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from longhaul.core.streams.store import Event

log = logging.getLogger(__name__)
PREFIX = "longhaul:events:"
RELAY_PREFIX = "longhaul:relay:"  # one key per live relay, refreshed with its leases
QUEUE_LIMIT = 1000  # a reader this far behind re-reads PostgreSQL instead
GAP = None  # put on a queue when messages were dropped for it


def channel(job_id: str) -> str:
    return PREFIX + job_id


def pack(events: list[Event]) -> bytes:
    """One message per flush and job: ``seq\\tkind\\ttype\\tjson`` lines (JSON has no newline)."""
    return "\n".join(f"{e.sequence_number}\t{e.kind}\t{e.type}\t{e.data}" for e in events).encode()


def unpack(payload: bytes | str) -> list[Event]:
    text = payload.decode() if isinstance(payload, bytes) else payload
    events = []
    for line in text.split("\n"):
        seq, kind, kind_type, data = line.split("\t", 3)
        events.append(Event(int(seq), kind_type, kind, data))
    return events


async def publish(client: aioredis.Redis, batches: dict[str, list[Event]]) -> None:
    """Publish each job's new events in one round trip; failures only cost latency."""
    if not batches:
        return
    try:
        async with client.pipeline(transaction=False) as pipe:
            for job_id, events in batches.items():
                pipe.publish(channel(job_id), pack(events))
            await pipe.execute()
    except Exception as exc:  # subscribers fall back to reading PostgreSQL
        log.warning("publishing events failed: %s", exc)


class Hub:
    """One Redis pub/sub connection per process, shared by every subscriber in it."""

    def __init__(self, redis_url: str) -> None:
        self._client = aioredis.from_url(redis_url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._queues: dict[str, set[asyncio.Queue[list[Event] | None]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def subscribe(self, job_id: str) -> asyncio.Queue[list[Event] | None]:
        queue: asyncio.Queue[list[Event] | None] = asyncio.Queue(QUEUE_LIMIT)
        async with self._lock:
            first = job_id not in self._queues
            self._queues.setdefault(job_id, set()).add(queue)
            if first:
                try:
                    await self._pubsub.subscribe(channel(job_id))
                except Exception as exc:  # the subscriber polls PostgreSQL meanwhile
                    log.warning("subscribing to %s failed: %s", job_id, exc)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="event-hub")
        return queue

    async def unsubscribe(self, job_id: str, queue: asyncio.Queue[list[Event] | None]) -> None:
        async with self._lock:
            queues = self._queues.get(job_id)
            if queues is None:
                return
            queues.discard(queue)
            if not queues:
                del self._queues[job_id]
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(channel(job_id))

    async def _read(self) -> None:
        while True:
            try:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event hub lost Redis (%s); retrying in 1 s", exc)
                await asyncio.sleep(1.0)
                await self._resubscribe()
                continue
            if message is None or message.get("type") != "message":
                continue
            job_id = message["channel"].decode().removeprefix(PREFIX)
            events = unpack(message["data"])
            for queue in list(self._queues.get(job_id, ())):
                try:
                    queue.put_nowait(events)
                except asyncio.QueueFull:  # the reader catches up from PostgreSQL
                    _drain(queue)
                    queue.put_nowait(GAP)

    async def _resubscribe(self) -> None:
        with contextlib.suppress(Exception):
            await self._pubsub.reset()
            self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            if self._queues:
                await self._pubsub.subscribe(*(channel(j) for j in self._queues))
        for queues in self._queues.values():  # messages may have been lost meanwhile
            for queue in queues:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(GAP)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
            await self._client.aclose()


def _drain(queue: asyncio.Queue[list[Event] | None]) -> None:
    with contextlib.suppress(asyncio.QueueEmpty):
        while True:
            queue.get_nowait()


Reader = Callable[[int], Awaitable[tuple[list[Event], bool]]]


async def follow(
    hub: Hub | None,
    job_id: str,
    after: int,
    read: Reader,
    *,
    poll_seconds: float = 2.0,
    keepalive_seconds: float = 15.0,
) -> AsyncIterator[Event | None]:
    """The events after ``after``: stored ones first, then live ones, until the final event.
    ``read(cursor)`` returns stored events after ``cursor`` and whether the stream still
    exists. Yields None as a keepalive during silences."""
    queue = await hub.subscribe(job_id) if hub is not None else None
    cursor = after
    loop = asyncio.get_running_loop()
    last_yield = loop.time()
    try:
        while True:
            events, alive = await read(cursor)  # subscribed first, so nothing falls between
            for event in events:
                yield event
                cursor = event.sequence_number
                last_yield = loop.time()
                if event.final:
                    return
            if events:
                continue  # maybe more pages
            if not alive:
                return
            while True:  # live: take messages while they continue the numbering
                idle = loop.time() - last_yield
                wait = min(poll_seconds, max(0.01, keepalive_seconds - idle))
                try:
                    if queue is None:
                        await asyncio.sleep(wait)
                        raise TimeoutError
                    batch = await asyncio.wait_for(queue.get(), timeout=wait)
                except TimeoutError:
                    if loop.time() - last_yield >= keepalive_seconds:
                        yield None
                        last_yield = loop.time()
                    break  # re-read PostgreSQL (Redis may be down)
                if batch is GAP:
                    break
                fresh = [e for e in batch if e.sequence_number > cursor]
                if not fresh:
                    continue
                if fresh[0].sequence_number != cursor + 1:
                    break  # a gap: read it from PostgreSQL
                for event in fresh:
                    yield event
                    cursor = event.sequence_number
                    last_yield = loop.time()
                    if event.final:
                        return
    finally:
        if hub is not None and queue is not None:
            await hub.unsubscribe(job_id, queue)


def relays_alive(redis: Any) -> int:
    """Live relays: heartbeat keys not yet expired (a sync Redis client)."""
    return sum(1 for _ in redis.scan_iter(match=RELAY_PREFIX + "*", count=100))

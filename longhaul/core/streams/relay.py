"""The relay: one asyncio process holding many upstream event streams.

- **Claims** streams (``job_streams`` rows) with leases, like jobs: several relays share the
  load, and a dead relay's streams are taken over when its leases run out.
- **Opens** each upstream stream: for a queued job, the create itself (``stream: true,
  background: true``, after the job is committed ``submitting``); for a running one,
  ``GET /responses/{id}?stream=true&starting_after=<last stored upstream number>``.
- **Stores** every event, numbered by Longhaul, in one batched transaction per flush interval
  for all streams (the cursor advances in the same transaction, fenced by the lease), then
  **publishes** them over Redis.
- If the upstream refuses a resume (too old) or the stream ends, the stream goes to
  ``polling``: polling and webhooks decide the end as for any job, and once the job is
  terminal its final event is stored. A terminal upstream event wakes the job's poll at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
import openai
import redis.asyncio as aioredis
from openai._streaming import SSEDecoder  # the SDK's own SSE parser (same rules as clients)
from sqlalchemy.orm import Session

from longhaul.core import upstream
from longhaul.core.config import Settings
from longhaul.core.db import session_scope
from longhaul.core.jobs.lifecycle import RUNNING, Status
from longhaul.core.streams import fanout, store
from longhaul.core.streams import jobs as stream_jobs
from longhaul.core.upstreams.clients import spec_for_job
from longhaul.core.upstreams.spec import DEFAULT_KEY, UpstreamSpec, make_async_client

log = logging.getLogger(__name__)
T = TypeVar("T")

UPSTREAM_TERMINAL = {"response.completed", "response.failed", "response.incomplete"}
LIFECYCLE = {"response.queued", "response.in_progress"}
SKIPPED = {"response.created", "keepalive"}  # Longhaul's own created is event 0


@dataclass
class Stream:
    job_id: str
    next_seq: int  # the next number to give (in memory, ahead of the store)
    stored_next: int  # the stored cursor
    upstream_seq: int | None
    status: str
    pending: list[store.Event] = field(default_factory=list)
    pending_up: list[int | None] = field(default_factory=list)
    template: dict[str, Any] | None = None
    task: asyncio.Task[None] | None = None


class LeaseLost(Exception):
    pass


def _job_spec(session: Session, job_id: str, settings: Settings) -> UpstreamSpec:
    return spec_for_job(session, job_id, settings=settings)


class Relay:
    def __init__(
        self,
        settings: Settings,
        *,
        owner: str | None = None,
        flush_seconds: float = 0.05,
        tick_seconds: float = 0.25,
        redis_client: aioredis.Redis | None = None,
    ) -> None:
        self.settings = settings
        self.owner = owner or f"relay-{secrets.token_hex(6)}"
        self.flush_seconds = flush_seconds
        self.tick_seconds = tick_seconds
        self.streams: dict[str, Stream] = {}
        self.redis = redis_client or aioredis.from_url(settings.redis_url)
        limits = httpx2.Limits(max_connections=None, max_keepalive_connections=100)
        self.client = openai.AsyncOpenAI(
            api_key=settings.openai_api_key or upstream.SIMULATOR_KEY,
            base_url=settings.openai_base_url,
            max_retries=0,
            timeout=httpx2.Timeout(settings.upstream_timeout_seconds, read=120.0),
            http_client=openai.DefaultAsyncHttpxClient(limits=limits),
        )
        self._clients: dict[str, openai.AsyncOpenAI] = {}  # other upstreams, by spec key
        self.stored_events = 0
        self._flushing = asyncio.Lock()

    # --- process ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        # Short blocking transactions run in threads: as many as the process's DB connections.
        workers = 2 * self.settings.database_pool_size
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(workers))
        loops = [
            asyncio.create_task(self._every(self.tick_seconds, self._claim), name="claim"),
            asyncio.create_task(self._flush_loop(stop), name="flush"),
            asyncio.create_task(self._every(1.0, self._watch_polling), name="watch"),
            asyncio.create_task(
                self._every(self.settings.relay_lease_seconds / 3, self._renew), name="renew"
            ),
            asyncio.create_task(self._every(3600.0, self._purge), name="purge"),
        ]
        try:
            await stop.wait()
        finally:
            for task in loops:
                task.cancel()
            tasks = [s.task for s in self.streams.values() if s.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*loops, *tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.flush()
                await self._db(stream_jobs.release_all, self.owner)
            await self.client.close()
            for client in self._clients.values():
                await client.close()
            with contextlib.suppress(Exception):
                await self.redis.delete(fanout.RELAY_PREFIX + self.owner)
                await self.redis.aclose()

    async def _every(self, seconds: float, step: Callable[[], Any]) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay step %s failed", getattr(step, "__name__", step))
            await asyncio.sleep(seconds)

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        def run() -> T:
            with session_scope() as session:
                return fn(session, *args)

        return await asyncio.to_thread(run)

    # --- claiming -----------------------------------------------------------------------
    async def _claim(self) -> None:
        await self._db(stream_jobs.discover, self.settings)
        room = self.settings.relay_max_streams - len(self.streams)
        claimed = await self._db(
            stream_jobs.claim_streams, self.owner, room, self.settings.relay_lease_seconds
        )
        for row in claimed:
            if row.job_id in self.streams:
                continue
            stream = Stream(
                row.job_id,
                row.next_sequence_number,
                row.next_sequence_number,
                row.upstream_sequence_number,
                row.status,
            )
            self.streams[row.job_id] = stream
            if row.status == "live":
                stream.task = asyncio.create_task(self._live(stream), name=f"stream {row.job_id}")

    async def _renew(self) -> None:
        await self._heartbeat()
        ids = list(self.streams)
        held = await self._db(stream_jobs.renew, self.owner, ids, self.settings.relay_lease_seconds)
        for job_id in ids:
            if job_id not in held:
                self._drop(job_id, "lease lost")

    async def _heartbeat(self) -> None:
        """Say this relay is alive (``longhaul_relays`` counts these keys); expires with the
        leases when the relay dies."""
        beat = {"streams": len(self.streams), "stored_events": self.stored_events}
        with contextlib.suppress(Exception):  # Redis down: only the metric misses it
            await self.redis.set(
                fanout.RELAY_PREFIX + self.owner,
                json.dumps(beat),
                ex=max(1, self.settings.relay_lease_seconds),
            )

    def _drop(self, job_id: str, why: str) -> None:
        stream = self.streams.pop(job_id, None)
        if stream is None:
            return
        log.info("stream %s dropped: %s", job_id, why)
        if stream.task is not None and stream.task is not asyncio.current_task():
            stream.task.cancel()

    async def _purge(self) -> None:
        await self._db(store.purge_expired, self.settings)

    # --- one live stream ----------------------------------------------------------------
    async def _live(self, stream: Stream) -> None:
        failures = 0
        try:
            while stream.job_id in self.streams:
                info = await self._db(stream_jobs.load, stream.job_id, self.settings)
                if info is None:
                    self._drop(stream.job_id, "job deleted")
                    return
                stream.template = info.template
                outcome = "wait"
                running = info.status in RUNNING
                if info.status == Status.QUEUED:
                    outcome = await self._create(stream)
                elif info.status != Status.SUBMITTING and info.upstream_response_id:
                    # Also once the job has ended: the upstream replays what we have not
                    # stored yet, up to its terminal event (or refuses: then polling).
                    outcome = await self._attach(stream, info.upstream_response_id)
                    if not running and (outcome == "reconnect" or failures >= 4):
                        outcome = "ended"
                elif info.status != Status.SUBMITTING:
                    outcome = "ended"  # ended before it reached upstream
                if outcome in ("terminal", "ended"):
                    await self._to_polling(stream, None)
                    return
                if outcome == "refused":
                    return
                failures = failures + 1 if outcome == "error" else 0
                await asyncio.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)) if failures else 1.0)
        except (asyncio.CancelledError, LeaseLost):
            return
        except Exception:
            log.exception("stream %s failed; another claim will retry it", stream.job_id)
            self._drop(stream.job_id, "error")

    async def _create(self, stream: Stream) -> str:
        started = await self._db(stream_jobs.begin_create, stream.job_id, self.settings)
        if started is None:
            return "wait"
        body, owner = started
        model = body.pop("model")
        created = False
        try:
            client = await self._client_for(stream.job_id)
            async with client.responses.with_streaming_response.create(
                model=model, extra_body=body, stream=True
            ) as response:
                async for event in _events(response):
                    if not created and event.get("type") == "response.created":
                        created = True
                        upstream_response = event.get("response") or {}
                        await self._db(
                            stream_jobs.created,
                            stream.job_id,
                            owner,
                            upstream_response,
                            self.settings,
                        )
                    if self._take(stream, event):
                        return "terminal"
        except (asyncio.CancelledError, LeaseLost):
            raise
        except Exception as exc:
            if not created:
                await self._db(stream_jobs.create_failed, stream.job_id, owner, exc, self.settings)
                return "error"
            log.info("stream %s: create stream broke (%s); resuming", stream.job_id, exc)
            return "error"
        return "reconnect" if created else "error"

    async def _client_for(self, job_id: str) -> openai.AsyncOpenAI:
        """The job's upstream: the environment's (``self.client``) or one client per other."""
        spec = await self._db(_job_spec, job_id, self.settings)
        if spec.key == DEFAULT_KEY:
            return self.client
        if spec.key not in self._clients:
            self._clients[spec.key] = make_async_client(
                spec,
                timeout=httpx2.Timeout(spec.timeout, read=120.0),
                http_client=openai.DefaultAsyncHttpxClient(
                    limits=httpx2.Limits(max_connections=None, max_keepalive_connections=100)
                ),
            )
        return self._clients[spec.key]

    async def _attach(self, stream: Stream, upstream_id: str) -> str:
        after = stream.upstream_seq
        try:
            client = await self._client_for(stream.job_id)
            async with client.responses.with_streaming_response.retrieve(
                upstream_id,
                stream=True,
                include_obfuscation=False,
                starting_after=after if after is not None else openai.omit,
            ) as response:
                async for event in _events(response):
                    if self._take(stream, event):
                        return "terminal"
        except (asyncio.CancelledError, LeaseLost):
            raise
        except openai.BadRequestError as exc:
            message = str(getattr(exc, "message", exc))
            log.info("stream %s: upstream refused the resume: %s", stream.job_id, message)
            notice = {
                "type": "longhaul.stream.polling",
                "reason": "upstream_resume_refused",
                "message": "The upstream refused to resume its event stream "
                f"({message}); this job's progress now comes from polling, and its final "
                "event still follows.",
            }
            await self._to_polling(stream, notice)
            return "refused"
        except Exception as exc:
            log.info("stream %s: upstream stream broke (%s); resuming", stream.job_id, exc)
            return "error"
        return "reconnect"

    def _take(self, stream: Stream, event: dict[str, Any]) -> bool:
        """Number and buffer one upstream event; True once the upstream's terminal event came."""
        if stream.job_id not in self.streams:
            raise LeaseLost
        kind_type = str(event.get("type", ""))
        up = event.get("sequence_number")
        up = up if isinstance(up, int) else None
        if up is not None and stream.upstream_seq is not None and up <= stream.upstream_seq:
            return False  # already stored (a resume repeats events)
        if kind_type in UPSTREAM_TERMINAL:
            stream.upstream_seq = up if up is not None else stream.upstream_seq
            self._wake(stream.job_id)
            return True
        if kind_type in SKIPPED:
            stream.upstream_seq = up if up is not None else stream.upstream_seq
            return False
        if kind_type in LIFECYCLE and stream.template is not None:
            status = (event.get("response") or {}).get("status")
            event = {**event, "response": {**stream.template, "status": status}}
        self._buffer(stream, "upstream", event, up)
        return False

    def _buffer(
        self, stream: Stream, kind: str, event: dict[str, Any], up: int | None = None
    ) -> None:
        stream.pending.append(store.numbered(kind, event, stream.next_seq))
        stream.pending_up.append(up)
        stream.next_seq += 1
        if up is not None:
            stream.upstream_seq = up

    def _wake(self, job_id: str) -> None:
        async def wake() -> None:
            with contextlib.suppress(Exception):
                await self._db(stream_jobs.wake, job_id)  # its poll leaves after the commit

        asyncio.get_running_loop().create_task(wake())

    async def _to_polling(self, stream: Stream, notice: dict[str, Any] | None) -> None:
        if notice is not None:
            self._buffer(stream, "longhaul", notice)
        await self.flush()
        if stream.job_id in self.streams:
            await self._db(store.set_status, stream.job_id, self.owner, "polling", None)
            stream.status = "polling"
            stream.task = None

    # --- streams waiting for their job's end ---------------------------------------------
    async def _watch_polling(self) -> None:
        waiting = [s.job_id for s in self.streams.values() if s.status == "polling"]
        ended = await self._db(stream_jobs.finished, waiting)
        for job_id, status in ended.items():
            stream = self.streams.get(job_id)
            if stream is None:
                continue
            if status is None:
                self._drop(job_id, "job deleted")
                continue
            final = await self._db(stream_jobs.final_event, job_id, self.settings)
            if final is None:
                continue
            self._buffer(stream, "final", final)
            await self.flush()
            if job_id in self.streams:
                await self._db(store.set_status, job_id, self.owner, "done", None)
                self.streams.pop(job_id, None)

    # --- storing and publishing ---------------------------------------------------------
    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.flush_seconds)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("flush failed; retrying")

    async def flush(self) -> None:
        """Store every buffered event (one transaction), then publish them. One at a time:
        each stream's events must be stored in order."""
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        batch: list[tuple[Stream, store.Pending]] = []
        for stream in self.streams.values():
            if not stream.pending:
                continue
            pending = store.Pending(
                stream.job_id, stream.pending, stream.upstream_seq, stream.pending_up
            )
            stream.pending, stream.pending_up = [], []
            batch.append((stream, pending))
        if not batch:
            return
        try:
            accepted = await self._db(
                store.append_batch,
                self.owner,
                [p for _, p in batch],
                self.settings.relay_lease_seconds,
            )
        except BaseException:
            for stream, pending in batch:  # keep them for the next flush
                stream.pending[:0] = pending.events
                stream.pending_up[:0] = pending.upstream_numbers
            raise
        published: dict[str, list[store.Event]] = {}
        for stream, pending in batch:
            if stream.job_id in accepted:
                stream.stored_next = pending.next_sequence_number
                self.stored_events += len(pending.events)
                published[stream.job_id] = pending.events
            else:
                self._drop(stream.job_id, "lease lost at flush")
        await fanout.publish(self.redis, published)


async def _events(response: Any) -> Any:
    """Decoded JSON events of an SSE response (comments and blank frames skipped)."""
    async for sse in SSEDecoder().aiter_bytes(response.iter_bytes()):
        if not sse.data or sse.data == "[DONE]":
            continue
        try:
            event = json.loads(sse.data)
        except ValueError:
            log.warning("upstream sent a non-JSON event: %.200s", sse.data)
            continue
        if isinstance(event, dict):
            yield event

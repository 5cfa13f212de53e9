"""``GET /v1/responses/{id}?stream=true[&starting_after=N]``: the job's stored events after N,
then live ones, as server-sent events; it ends after the final event."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from longhaul.api.links import base_url
from longhaul.core.config import get_settings
from longhaul.core.db import session_scope
from longhaul.core.errors import InvalidInput
from longhaul.core.jobs.lifecycle import RESPONSE_STATUS, Status
from longhaul.core.jobs.views import response_view
from longhaul.core.models import Job
from longhaul.core.streams import fanout, store
from longhaul.core.streams.policy import wants_stream

_hub: fanout.Hub | None = None


def wants_event_stream(request: Request) -> bool:
    return request.query_params.get("stream", "").lower() in ("true", "1")


def event_stream(request: Request, session: Session, job: Job) -> StreamingResponse:
    """Validate (400s carry ``param``), then stream. Runs in the request's thread."""
    settings = get_settings()
    stream = store.get_stream(session, job.id)
    if stream is None and wants_stream(session, job, settings) and job.deleted_at is None:
        view = response_view(session, job, base_url(request))
        view["status"] = RESPONSE_STATUS[Status.QUEUED]
        store.open_stream(session, job, view)  # before the relay's discovery gets to it
        session.commit()
        stream = store.get_stream(session, job.id)
    if stream is None:
        raise InvalidInput(
            f"Response '{job.id}' has no event stream: it was not created with stream=true.",
            param="stream",
            code="invalid_value",
        )
    after = _starting_after(request, store.last_sequence_number(session, job.id))
    link = base_url(request)
    # The request's session would stay open (and hold a pooled connection) until the stream
    # ends: give it back now; the stream reads with short sessions of its own.
    session.commit()
    session.close()
    return stream_events(job.id, after, link)


def stream_events(
    job_id: str, after: int, link: str, headers: dict[str, str] | None = None
) -> StreamingResponse:
    """The job's events after ``after`` as ``text/event-stream``, until its final event."""
    return StreamingResponse(
        _frames(job_id, after, link),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
    )


def _starting_after(request: Request, last: int | None) -> int:
    raw = request.query_params.get("starting_after")
    if raw is None or raw == "":
        return -1
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(
            f"Invalid 'starting_after': {raw!r} is not an integer.",
            param="starting_after",
            code="invalid_value",
        ) from None
    if value < 0:
        raise InvalidInput(
            "Invalid 'starting_after': it must not be negative.",
            param="starting_after",
            code="invalid_value",
        )
    if last is None or value > last:
        raise InvalidInput(
            f"Invalid 'starting_after': {value} is past the last event"
            f" ({'none yet' if last is None else last}).",
            param="starting_after",
            code="invalid_value",
        )
    return value


def _read(job_id: str, after: int) -> tuple[list[store.Event], bool]:
    with session_scope() as session:
        events = store.events_after(session, job_id, after)
        alive = bool(events) or store.get_stream(session, job_id) is not None
        return events, alive


def _rendered_final(job_id: str, event: store.Event, link: str) -> store.Event:
    """The final event's ``response`` is the job as ``GET /v1/responses/{id}`` shows it now."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None:
            return event
        body = json.loads(event.data)
        body["response"] = response_view(session, job, link)
    return store.Event(event.sequence_number, event.type, event.kind, store.encode(body))


async def _frames(job_id: str, after: int, link: str) -> AsyncIterator[bytes]:
    global _hub
    if _hub is None:
        _hub = fanout.Hub(get_settings().redis_url)

    async def read(cursor: int) -> tuple[list[store.Event], bool]:
        return await run_in_threadpool(_read, job_id, cursor)

    async for event in fanout.follow(_hub, job_id, after, read):
        if event is None:
            yield b": keepalive\n\n"
            continue
        if event.final:
            event = await run_in_threadpool(_rendered_final, job_id, event, link)
        yield f"event: {event.type}\ndata: {event.data}\n\n".encode()

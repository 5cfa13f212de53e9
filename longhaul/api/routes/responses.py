"""OpenAI-compatible ``/v1/responses`` endpoints over Longhaul jobs."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from longhaul.api.db import autocommit_session, in_thread, run_db, sessions
from longhaul.api.deps import TenantDep
from longhaul.api.errors import documented
from longhaul.api.links import base_url
from longhaul.api.streaming import event_stream, stream_events, wants_event_stream
from longhaul.api.waiting import waiters
from longhaul.core import upstream
from longhaul.core.config import get_settings
from longhaul.core.errors import Conflict, InvalidInput, NotFound
from longhaul.core.jobs import intake, queries
from longhaul.core.jobs.cancel import request_cancel
from longhaul.core.jobs.lifecycle import ACTIVE, RESPONSE_STATUS, Status
from longhaul.core.jobs.views import NEW_JOB, response_json, response_view
from longhaul.core.models import Job, Tenant, utcnow
from longhaul.core.streams import store
from longhaul.core.streams.store import delete_events
from longhaul.core.upstreams.clients import spec_for
from longhaul.core.upstreams.spec import UpstreamSpec
from longhaul.schemas.responses import DeletedResponse, InputItemList, ResponseObject

router = APIRouter(prefix="/v1/responses", tags=["responses"])
REPLAYED = {"Idempotent-Replayed": "true"}

# The body is read raw (bounded, parsed once in a thread), and the key read from the headers
# (FastAPI's parameter machinery cost a create about 3% of its CPU); this only documents them.
CREATE_BODY = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Idempotency-Key"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CreateResponseBody"}}
        },
    },
}
# A final upstream object passes through as it came: fields it lacks are not added.
AS_RESPONSE: dict[str, Any] = {
    "response_model": ResponseObject,
    "response_model_exclude_unset": True,
}


@router.post(
    "",
    status_code=200,
    **AS_RESPONSE,
    responses={
        **documented(400, 401, 402, 404, 409, 413),
        200: {
            "content": {"text/event-stream": {}},
            "description": "The Response (``queued`` with ``background: true``; final, or as it "
            "stands after ``LONGHAUL_SYNC_WAIT_SECONDS``, without); with ``stream: true``, "
            "its events as server-sent events.",
        },
    },
    openapi_extra=CREATE_BODY,
)
async def create_response(
    request: Request,
    tenant: TenantDep,
) -> Response:
    """Queue a background job. ``background: true`` answers it at once (``queued``);
    ``stream: true`` answers its events; with neither, the call waits for its end, as a
    synchronous server's would."""
    raw = await request.body()
    link = base_url(request)
    # One thread for all of it: parse, one transaction, render.
    idempotency_key = request.headers.get("idempotency-key")
    created = await in_thread(_create, raw, tenant, idempotency_key, link)
    headers = REPLAYED if created.replayed else {}
    if created.mode == "stream":
        return stream_events(created.job_id, -1, link, headers)
    if created.reply is not None:
        return created.reply
    outcome, ready = await waiters.wait(
        request, created.job_id, get_settings().sync_wait_seconds, link
    )
    if outcome == "gone":  # nobody to answer; the job goes on
        return Response(status_code=204)
    if ready is not None:
        return JSONResponse(ready, headers=headers)
    job_id = created.job_id

    def view(session: Session) -> dict[str, Any]:
        return response_view(session, queries.get_for_tenant(session, tenant, job_id), link)

    return JSONResponse(await run_db(view), headers=headers)


@dataclass(frozen=True)
class Created:
    job_id: str
    mode: str  # "background" (answered now), "stream" (events) or "sync" (waits)
    replayed: bool
    reply: Response | None = None  # the answer, when it is ready now


def _create(raw: bytes, tenant: Tenant, idempotency_key: str | None, link: str) -> Created:
    body = intake.parse_body(raw)
    streaming = body.get("stream") is True
    # The create writes with one statement (the job; with a budget, the job and its hold), its
    # own transaction: the reads before it (replay, predecessor) take no locks, so BEGIN/COMMIT
    # would only add round trips. A streamed job and its stream (event 0) are written together.
    with sessions()() if streaming else autocommit_session() as session:
        accepted = intake.accept(
            session, tenant, body, settings=get_settings(), idempotency_key=idempotency_key
        )
        job = accepted.job
        mode = "stream" if streaming else intake.request_mode(job.request_body)
        if streaming:  # (the other path's one statement committed itself)
            if job.deleted_at is None:  # event 0 is there before the answer
                extras = NEW_JOB if accepted.created else None
                view = response_view(session, job, link, extras=extras)
                view["status"] = RESPONSE_STATUS[Status.QUEUED]
                store.open_stream(session, job, view)
            session.commit()  # the sweep submits it at its next tick, batched with others
        if mode != "background":
            return Created(job.id, mode, not accepted.created)
        if not accepted.created:  # a replay shows the job as it is now
            view = response_view(session, job, link)
            return Created(job.id, mode, True, JSONResponse(view, headers=REPLAYED))
    # The connection is back in the pool; the new row is all the view needs.
    answer = response_json(session, job, link, extras=NEW_JOB)
    return Created(job.id, mode, False, Response(answer, media_type="application/json"))


@router.get(
    "/{response_id}",
    **AS_RESPONSE,
    responses={
        **documented(400, 401, 404),
        200: {
            "content": {"text/event-stream": {}},
            "description": "The Response; with ``stream=true``, its events as server-sent events.",
        },
    },
)
async def retrieve_response(
    response_id: str, request: Request, tenant: TenantDep
) -> dict[str, Any]:
    link = base_url(request)

    def view(session: Session) -> Any:
        job = queries.get_for_tenant(session, tenant, response_id)
        if wants_event_stream(request):  # validated and opened here; frames read on their own
            return event_stream(request, session, job)
        return response_view(session, job, link)

    return await run_db(view)  # type: ignore[no-any-return]


@router.post("/{response_id}/cancel", **AS_RESPONSE, responses=documented(401, 404, 409))
async def cancel_response(response_id: str, request: Request, tenant: TenantDep) -> dict[str, Any]:
    """Queued: never reaches upstream. Running: cancelled upstream, then confirmed."""
    link = base_url(request)
    return await run_db(lambda session: cancel_now(session, tenant, response_id, link))


def cancel_now(
    session: Session, tenant: Tenant, response_id: str, link: str | None
) -> dict[str, Any]:
    """Request the cancel, commit (its follow-up leaves then), return the Response view."""
    job = queries.get_for_tenant(session, tenant, response_id)
    request_cancel(session, job)
    session.commit()  # the next step's message leaves after this commit
    session.refresh(job)
    view = response_view(session, job, link)
    if job.status == Status.FINALIZING and job.cancel_requested_at and not job.upstream_response_id:
        view["status"] = Status.CANCELLED  # a queued job's cancel is final at once
    return view


@router.delete(
    "/{response_id}", response_model=DeletedResponse, responses=documented(401, 404, 409)
)
async def delete_response(response_id: str, tenant: TenantDep) -> dict[str, Any]:
    """Deletes the job, its artifacts and the upstream copy. A running job must be cancelled
    first (409), so nothing keeps spending on a job nobody can see."""
    return await run_db(lambda session: delete_now(session, tenant, response_id))


def delete_now(session: Session, tenant: Tenant, response_id: str) -> dict[str, Any]:
    """Check, then delete upstream with no connection held, then delete here and commit."""
    from longhaul.core.artifacts.service import delete_job_artifacts

    job = queries.get_for_tenant(session, tenant, response_id)
    if job.status in ACTIVE:
        raise Conflict(
            f"Response '{job.id}' is still {job.status}; cancel it before deleting.",
            code="job_active",
        )
    upstream_id = job.upstream_response_id
    spec = None
    with contextlib.suppress(NotFound):  # its upstream is gone: nothing to delete there
        spec = spec_for(session, job.upstream_id, settings=get_settings())
    session.commit()  # the connection goes back to the pool during the upstream call
    if upstream_id and spec is not None:  # best effort: the upstream copy expires on its own
        with contextlib.suppress(Exception):
            upstream.get_client(spec).responses.delete(upstream_id)
    job = queries.get_for_tenant(session, tenant, response_id)
    delete_job_artifacts(session, job)
    delete_events(session, job.id)
    job.deleted_at = utcnow()
    job.idempotency_key = None  # the key may be used again: it never brings this job back
    job.request_body = {}
    job.response_body = None
    job.output_text = None
    session.commit()
    return {"id": job.id, "object": "response", "deleted": True}


@router.get(
    "/{response_id}/input_items",
    response_model=InputItemList,
    response_model_exclude_unset=True,
    responses=documented(400, 401, 404),
)
async def list_input_items(
    response_id: str,
    tenant: TenantDep,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=100),
    order: str = Query("desc", pattern="^(asc|desc)$"),
) -> dict[str, Any]:
    def load(session: Session) -> tuple[Job, UpstreamSpec | None]:
        job = queries.get_for_tenant(session, tenant, response_id)
        spec = None
        with contextlib.suppress(NotFound):
            spec = spec_for(session, job.upstream_id, settings=get_settings())
        return job, spec

    job, spec = await run_db(load)
    return await in_thread(_input_items, job, spec, after, limit, order)


def _input_items(
    job: Job, spec: UpstreamSpec | None, after: str | None, limit: int, order: str
) -> dict[str, Any]:
    if job.upstream_response_id and spec is not None:
        try:
            client = upstream.get_client(spec)
            return upstream.input_items(  # the items as they came, not re-serialized by the SDK
                client, job.upstream_response_id, after=after, limit=limit, order=order
            ).body
        except Exception as exc:  # upstream expired it: fall back to the stored request
            if not isinstance(exc, upstream.openai.NotFoundError):
                raise InvalidInput(f"Upstream refused input_items: {exc}") from exc
    items = queries.local_input_items(job)
    if order == "desc":
        items.reverse()
    if after:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return queries.page(items[:limit], len(items) > limit)

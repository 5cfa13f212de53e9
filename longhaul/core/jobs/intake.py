"""Accepting a job: validate the body, map predecessors, apply idempotency, insert as ``queued``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core.config import Settings
from longhaul.core.costs import holds
from longhaul.core.errors import Conflict, InvalidInput, TooManyActiveJobs
from longhaul.core.ids import is_job_id, new_job_id
from longhaul.core.jobs.lifecycle import ACTIVE, Status
from longhaul.core.jobs.state import history_entry
from longhaul.core.models import Job, Tenant, utcnow
from longhaul.core.upstreams import ownership
from longhaul.core.webhooks.ssrf import validate_url
from longhaul.schemas.requests import EXTENSION_FIELDS, CreateResponseBody

METADATA_MAX_KEYS = 15  # OpenAI allows 16; Longhaul adds longhaul_job_id

# One Core statement built once: a create only binds its values (an ORM insert with
# ``.values(...)`` would build and cache-key a new statement per request).
_JOBS = Job.__table__
assert isinstance(_JOBS, Table)
_INSERT = (
    insert(_JOBS)
    .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
    .returning(_JOBS.c.id)
)
_COLUMNS = {"job_metadata": "metadata"}  # attribute → column name, where they differ


@dataclass
class Accepted:
    job: Job
    created: bool  # False when an Idempotency-Key replay returned an existing job


def request_mode(request_body: dict[str, Any]) -> str:
    """How the client asked (``longhaul.mode``); every mode runs as a background job upstream.
    ``background``: ``background: true`` (answered at once, or streamed with ``stream: true``);
    ``stream``: ``stream: true`` alone (answered as events); ``sync``: neither (the call waits
    for the final Response)."""
    if request_body.get("background") is True:
        return "background"
    return "stream" if request_body.get("stream") is True else "sync"


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"We could not parse the JSON body of your request: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return body


def validate(body: dict[str, Any]) -> CreateResponseBody:
    try:
        parsed = CreateResponseBody.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = _param(first["loc"], body)
        if first["type"] == "missing":
            raise InvalidInput(
                f"Missing required parameter: '{param}'.",
                param=param,
                code="missing_required_parameter",
            ) from exc
        raise InvalidInput(
            f"Invalid '{param}': {first['msg']}.", param=param, code="invalid_value"
        ) from exc
    if parsed.store is False:
        raise InvalidInput(
            "Longhaul runs every request as a stored background job: send 'store': true "
            "(or omit it).",
            param="store",
            code="unsupported_value",
        )
    if parsed.input is None and parsed.prompt is None:
        raise InvalidInput(
            "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
        )
    if parsed.webhook is not None:  # refused now, not at send time
        validate_url(str(parsed.webhook.url), param="webhook.url")
    meta = parsed.metadata or {}
    if len(meta) > METADATA_MAX_KEYS:
        raise InvalidInput(
            f"'metadata' may hold at most {METADATA_MAX_KEYS} keys on Longhaul.",
            param="metadata",
            code="invalid_value",
        )
    for key, value in meta.items():
        if len(key) > 64 or len(value) > 512:
            raise InvalidInput(
                "'metadata' keys are at most 64 and values 512 characters.",
                param="metadata",
                code="invalid_value",
            )
        if key == "longhaul_job_id":
            raise InvalidInput(
                "'metadata.longhaul_job_id' is reserved.", param="metadata", code="invalid_value"
            )
    return parsed


def _param(loc: tuple[Any, ...], body: Any) -> str | None:
    """The dotted path of the offending field, without pydantic's union-branch labels."""
    path: list[str] = []
    node = body
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif not path:  # a missing top-level field
            path.append(str(part))
            break
        else:
            break
        path.append(str(part))
    return ".".join(path) or None


def request_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _map_predecessor(session: Session, tenant: Tenant, value: str, param: str) -> tuple[str, str]:
    """A Longhaul job id becomes its upstream response id; the predecessor must be finished."""
    pred = session.execute(
        select(Job).where(Job.id == value, Job.tenant_id == tenant.id, Job.deleted_at.is_(None))
    ).scalar_one_or_none()
    if pred is None:
        raise InvalidInput(
            f"Previous response with id '{value}' not found.",
            param=param,
            code="previous_response_not_found",
        )
    if pred.status != Status.COMPLETED or not pred.upstream_response_id:
        raise InvalidInput(
            f"Previous response '{value}' is '{pred.status}'; it must be completed before a "
            "follow-up can be queued.",
            param=param,
            code="previous_response_not_completed",
        )
    return pred.id, pred.upstream_response_id


def _check_active(session: Session, tenant: Tenant, limit: int) -> None:
    """Refuse a new job while the tenant has ``limit`` active ones. Counts at most ``limit`` rows
    (a partial index holds only active jobs); concurrent creates may pass it by a few."""
    active = session.execute(
        select(func.count()).select_from(
            select(Job.id)
            .where(Job.tenant_id == tenant.id, Job.status.in_(ACTIVE), Job.deleted_at.is_(None))
            .limit(limit)
            .subquery()
        )
    ).scalar_one()
    if active >= limit:
        raise TooManyActiveJobs(
            f"This tenant has {limit} active jobs, the most it may have "
            "(LONGHAUL_MAX_ACTIVE_JOBS); retry when some have finished.",
            limit=limit,
        )


def accept(
    session: Session,
    tenant: Tenant,
    body: dict[str, Any],
    *,
    settings: Settings,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Accepted:
    """Insert the job with one statement: its INSERT, or for a tenant with a budget the INSERT
    inside the statement that admits it and takes its hold (``costs.holds``; 402 and nothing
    stored when it won't fit). So a create needs no transaction; the caller commits if it opened
    one. Same Idempotency-Key and body → the same job; other body → 409. The returned job of a new
    insert is built from the inserted values, not read back, and belongs to no session."""
    now = now or utcnow()
    parsed = validate(body)
    digest = request_hash(body)
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 255:
            raise InvalidInput(
                "Idempotency-Key must be 1 to 255 characters.",
                param="Idempotency-Key",
                code="invalid_value",
            )
        existing = _by_key(session, tenant, idempotency_key)
        if existing is not None:
            return _replay(existing, digest)
    if settings.max_active_jobs:
        _check_active(session, tenant, settings.max_active_jobs)

    upstream_body = {k: v for k, v in body.items() if k not in EXTENSION_FIELDS}
    # ``stream: true`` stays in the stored body (the relay's cue; a worker's create drops it).
    if upstream_body.get("stream") is not True:
        upstream_body.pop("stream", None)
    previous_job_id = None
    if parsed.previous_response_id and is_job_id(parsed.previous_response_id):
        previous_job_id, upstream_body["previous_response_id"] = _map_predecessor(
            session, tenant, parsed.previous_response_id, "previous_response_id"
        )
    # Every other id must be the tenant's, on the upstream the job will run on.
    upstream_id = ownership.place(
        session,
        tenant,
        upstream_body,
        model=parsed.model,
        named=parsed.longhaul.upstream if parsed.longhaul else None,
        previous_job_id=previous_job_id,
    )
    deadline = (parsed.longhaul.deadline_seconds if parsed.longhaul else None) or (
        settings.job_deadline_seconds
    )
    job_id = new_job_id()
    values = dict(
        id=job_id,
        tenant_id=tenant.id,
        status=Status.QUEUED,
        model=parsed.model,
        request_body=upstream_body,
        request_hash=digest,
        idempotency_key=idempotency_key,
        webhook_url=str(parsed.webhook.url) if parsed.webhook else None,
        job_metadata=parsed.metadata,
        previous_job_id=previous_job_id,
        upstream_id=upstream_id,
        completion_window=(
            parsed.background_options.completion_window if parsed.background_options else None
        ),
        deadline_at=now + timedelta(seconds=deadline),
        # Due now: the sweep's next tick submits it, in a batch with the others due.
        next_poll_at=now,
        state_history=[history_entry(Status.QUEUED, now)],
        created_at=now,
        updated_at=now,
        possibly_duplicated=False,
        submit_attempts=0,
        poll_count=0,
    )
    job = Job(**values)
    row = {_COLUMNS.get(name, name): value for name, value in values.items()}
    hold = holds.plan_hold(session, tenant, job, settings)  # 402 here if the spend is over
    if hold is None:
        inserted = session.connection().execute(_INSERT, row).scalar_one_or_none() is not None
    else:  # the job, admitted against the budget, and its hold: one statement too
        inserted = holds.insert_held(session, tenant, row, hold)
    if not inserted:  # a concurrent request with the same key won the race
        existing = _by_key(session, tenant, idempotency_key or "")
        assert existing is not None
        return _replay(existing, digest)
    # The row is exactly ``values`` (no server defaults): no need to read it back.
    return Accepted(job, True)


def _by_key(session: Session, tenant: Tenant, key: str) -> Job | None:
    return session.execute(
        select(Job).where(Job.tenant_id == tenant.id, Job.idempotency_key == key)
    ).scalar_one_or_none()


def _replay(existing: Job, digest: str) -> Accepted:
    if existing.deleted_at is not None:  # deleted before keys were released on delete
        raise Conflict(
            "The job created with this Idempotency-Key was deleted; use a new key.",
            param="Idempotency-Key",
            code="idempotency_key_deleted",
        )
    if existing.request_hash != digest:
        raise Conflict(
            "This Idempotency-Key was already used with a different request body.",
            param="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return Accepted(existing, False)

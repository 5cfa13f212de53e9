"""Every upstream id in a create body must belong to the tenant: made through
Longhaul by this tenant on the same upstream, or living on the tenant's own upstream (its own key:
the upstream itself keeps other accounts' objects out). Anything else is refused as if it did not
exist — a 404 in OpenAI's shape, or for ``previous_response_id`` the 400
``previous_response_not_found`` OpenAI itself gives — and the job is never queued, so nothing
reaches the upstream.

What Longhaul knows a tenant made, per upstream:

- responses: its jobs' upstream response ids;
- conversations: the conversation of any of its jobs (sent with the request or reported in the
  response);
- containers and files: those its jobs' outputs name (``code_interpreter_call.container_id``,
  file citations), so a follow-up may reuse a container or cite a file a previous job made.

- files, vector stores, containers and conversations made through Longhaul's proxies
  (``/v1/files``, ``/v1/vector_stores``, ``/v1/containers``, ``/v1/conversations``), recorded in
  ``upstream_objects`` with the upstream they live on.

``conversation`` may be a Longhaul job id: it becomes that job's conversation id (a response id is
not a conversation, and OpenAI refuses one there)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from longhaul.core.errors import InvalidInput, NotFound
from longhaul.core.ids import is_job_id
from longhaul.core.models import Job, Tenant, Upstream
from longhaul.core.upstreams import objects
from longhaul.core.upstreams.routing import route_job

WHAT = {
    "response": "response",
    "conversation": "conversation",
    "container": "container",
    "file": "file",
    "vector_store": "vector store",
}


@dataclass(frozen=True)
class Ref:
    kind: str  # response | conversation | container | file | vector_store
    id: str
    param: str


def references(body: dict[str, Any]) -> list[Ref]:
    """Every upstream id the body names, with where (an OpenAI ``param`` path)."""
    refs: list[Ref] = []
    prev = body.get("previous_response_id")
    if isinstance(prev, str) and prev:
        refs.append(Ref("response", prev, "previous_response_id"))
    conv = body.get("conversation")
    if isinstance(conv, str) and conv:
        refs.append(Ref("conversation", conv, "conversation"))
    elif isinstance(conv, dict) and isinstance(conv.get("id"), str):
        refs.append(Ref("conversation", conv["id"], "conversation.id"))
    for i, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict):
            refs.extend(_tool_refs(tool, f"tools[{i}]"))
    refs.extend(_walk(body.get("input"), "input"))
    refs.extend(_walk(body.get("prompt"), "prompt"))  # files among a prompt's variables
    return refs


def _tool_refs(tool: dict[str, Any], at: str) -> Iterator[Ref]:
    kind = tool.get("type")
    if kind == "file_search":
        for j, vs in enumerate(tool.get("vector_store_ids") or []):
            if isinstance(vs, str):
                yield Ref("vector_store", vs, f"{at}.vector_store_ids[{j}]")
    container = tool.get("container")
    if isinstance(container, str):
        yield Ref("container", container, f"{at}.container")
    yield from _walk(container if isinstance(container, dict) else None, f"{at}.container")
    yield from _walk(tool.get("environment"), f"{at}.environment")
    yield from _walk(tool.get("input_image_mask"), f"{at}.input_image_mask")


def _walk(node: Any, at: str) -> Iterator[Ref]:
    """``file_id``, ``file_ids`` and ``container_id`` anywhere below ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{at}.{key}"
            if key == "file_id" and isinstance(value, str):
                yield Ref("file", value, here)
            elif key == "file_ids" and isinstance(value, list):
                for j, fid in enumerate(value):
                    if isinstance(fid, str):
                        yield Ref("file", fid, f"{here}[{j}]")
            elif key == "container_id" and isinstance(value, str):
                yield Ref("container", value, here)
            else:
                yield from _walk(value, here)
    elif isinstance(node, list):
        for j, item in enumerate(node):
            yield from _walk(item, f"{at}[{j}]")


def response_job(session: Session, tenant: Tenant, response_id: str) -> Job | None:
    """The tenant's job whose upstream response this is (None: not made through Longhaul by it)."""
    return session.execute(
        select(Job).where(
            Job.upstream_response_id == response_id,
            Job.tenant_id == tenant.id,
            Job.deleted_at.is_(None),
        )
    ).scalar_one_or_none()


def map_previous(session: Session, tenant: Tenant, body: dict[str, Any]) -> str | None:
    """``previous_response_id: <job id>`` → that job's upstream response id; returns the job id.
    (Intake's own mapping also insists the predecessor has completed.)"""
    value = body.get("previous_response_id")
    if not isinstance(value, str) or not is_job_id(value):
        return None
    job = session.execute(
        select(Job).where(Job.id == value, Job.tenant_id == tenant.id, Job.deleted_at.is_(None))
    ).scalar_one_or_none()
    if job is None or not job.upstream_response_id:
        raise InvalidInput(
            f"Previous response with id '{value}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    body["previous_response_id"] = job.upstream_response_id
    return job.id


def map_conversation(session: Session, tenant: Tenant, body: dict[str, Any]) -> str | None:
    """``conversation: <job id>`` (string or ``{"id": …}``) → that job's conversation id.
    Returns the job's id (a follow-up runs on its upstream), or None."""
    conv = body.get("conversation")
    value = conv.get("id") if isinstance(conv, dict) else conv
    if not isinstance(value, str) or not is_job_id(value):
        return None
    job = session.execute(
        select(Job).where(Job.id == value, Job.tenant_id == tenant.id, Job.deleted_at.is_(None))
    ).scalar_one_or_none()
    if job is None:
        raise NotFound(
            f"Conversation with id '{value}' not found.", param="conversation", code="not_found"
        )
    conv_id = _conversation_of(job)
    if conv_id is None:
        raise InvalidInput(
            f"Response '{value}' is not part of a conversation; continue it with "
            "'previous_response_id' instead.",
            param="conversation",
            code="invalid_value",
        )
    body["conversation"] = {**conv, "id": conv_id} if isinstance(conv, dict) else conv_id
    return job.id


def _conversation_of(job: Job) -> str | None:
    for source in (job.response_body or {}, job.request_body or {}):
        conv = source.get("conversation")
        conv = conv.get("id") if isinstance(conv, dict) else conv
        if isinstance(conv, str) and conv and not is_job_id(conv):
            return conv
    return None


def check(
    session: Session,
    tenant: Tenant,
    body: dict[str, Any],
    *,
    upstream_id: str | None,
) -> None:
    """Raise ``NotFound`` for the first id the tenant does not own on ``upstream_id``."""
    check_refs(session, tenant, references(body), upstream_id=upstream_id)


def body_refs(body: Any) -> list[Ref]:
    """The ids a proxied create names (``file_id``, ``file_ids``, ``container_id`` anywhere)."""
    return [Ref(r.kind, r.id, r.param.lstrip(".")) for r in _walk(body, "")]


def check_refs(
    session: Session, tenant: Tenant, refs: list[Ref], *, upstream_id: str | None
) -> None:
    """Raise ``NotFound`` for the first ref the tenant does not own on ``upstream_id``."""
    refs = [r for r in refs if not is_job_id(r.id)]
    if not refs or own_upstream(session, tenant, upstream_id):
        return
    for ref in refs:
        if _owned(session, tenant, upstream_id, ref):
            continue
        if ref.kind == "response":  # OpenAI's own answer to an unknown predecessor: a 400
            raise InvalidInput(
                f"Previous response with id '{ref.id}' not found.",
                param=ref.param,
                code="previous_response_not_found",
            )
        raise NotFound(
            f"No {WHAT[ref.kind]} found with id '{ref.id}'.", param=ref.param, code="not_found"
        )


def own_upstream(session: Session, tenant: Tenant, upstream_id: str | None) -> bool:
    if upstream_id is None:
        return False
    owner = session.execute(
        select(Upstream.tenant_id).where(Upstream.id == upstream_id)
    ).scalar_one_or_none()
    return owner is not None and owner == tenant.id


def _owned(session: Session, tenant: Tenant, upstream_id: str | None, ref: Ref) -> bool:
    if ref.kind != "response":  # made through a proxy (/v1/files …) by this tenant, there
        row = objects.owned(session, tenant, ref.kind, ref.id)
        if row is not None and row.upstream_id == upstream_id:
            return True
    same = Job.upstream_id.is_(None) if upstream_id is None else Job.upstream_id == upstream_id
    stmt = _jobs_naming(tenant, ref)
    return stmt is not None and session.execute(stmt.where(same).limit(1)).first() is not None


def _jobs_naming(tenant: Tenant, ref: Ref) -> Any:
    """The tenant's jobs whose work made (or ran in) the object: a select of their upstream
    ids, or None for a kind no job makes."""
    mine = select(Job.upstream_id).where(Job.tenant_id == tenant.id, Job.deleted_at.is_(None))
    if ref.kind == "response":
        stmt = mine.where(Job.upstream_response_id == ref.id)
    elif ref.kind == "conversation":
        stmt = mine.where(
            or_(
                Job.request_body["conversation"].astext == ref.id,
                Job.request_body["conversation"]["id"].astext == ref.id,
                Job.response_body["conversation"]["id"].astext == ref.id,
            )
        )
    elif ref.kind in ("container", "file"):
        # Named in one of its jobs' outputs. A scan of the tenant's finished jobs: only bodies
        # that name such ids pay for it.
        needle = f'"{ref.id}"'
        stmt = mine.where(
            Job.response_body.is_not(None),
            func.strpos(cast(Job.response_body, Text), needle) > 0,
        )
    else:  # vector stores: only through the proxy
        return None
    return stmt


def locate(
    session: Session, tenant: Tenant, kind: str, object_id: str, *, param: str
) -> str | None:
    """The upstream the tenant's object lives on: where it was made through a proxy, else where
    one of its jobs made or used it, else the tenant's own default upstream (its own key: the
    upstream judges). Anything else is a ``NotFound``, before any upstream is asked."""
    row = objects.owned(session, tenant, kind, object_id)
    if row is not None:
        return row.upstream_id
    stmt = _jobs_naming(tenant, Ref(kind, object_id, param))
    found = None if stmt is None else session.execute(stmt.limit(1)).first()
    if found is not None:
        return found[0]  # type: ignore[no-any-return]
    default = tenant.default_upstream_id
    if default is not None and own_upstream(session, tenant, default):
        return default
    raise NotFound(f"No {WHAT[kind]} found with id '{object_id}'.", param=param, code="not_found")


def _home(session: Session, tenant: Tenant, body: dict[str, Any]) -> tuple[str | None] | None:
    """The upstream of the first object the body names that the tenant made through a proxy."""
    for ref in references(body):
        if ref.kind != "response" and not is_job_id(ref.id):
            row = objects.owned(session, tenant, ref.kind, ref.id)
            if row is not None:
                return (row.upstream_id,)
    return None


def place(
    session: Session,
    tenant: Tenant,
    body: dict[str, Any],
    *,
    model: str,
    named: str | None,
    previous_job_id: str | None,
) -> str | None:
    """Map a ``conversation`` job id, choose the job's upstream (a follow-up keeps its
    predecessor's), then check every id the body names against it. Returns the upstream id."""
    follow = previous_job_id
    prev = body.get("previous_response_id")
    if follow is None and isinstance(prev, str) and prev:
        owner = response_job(session, tenant, prev)
        follow = owner.id if owner is not None else None
    conv_job = map_conversation(session, tenant, body)
    pinned = None if follow or conv_job else _home(session, tenant, body)
    upstream_id = route_job(
        session, tenant, model=model, named=named, previous_job_id=follow or conv_job, pinned=pinned
    )
    check(session, tenant, body, upstream_id=upstream_id)
    return upstream_id

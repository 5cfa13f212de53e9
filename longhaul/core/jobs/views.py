"""How a job looks from outside: as an OpenAI Response object, as a native job, as a summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.artifacts.service import artifact_summaries_by_job
from longhaul.core.costs.holds import hold_view
from longhaul.core.costs.ledger import call_cost, summarize_lines
from longhaul.core.jobs.intake import request_mode
from longhaul.core.jobs.lifecycle import RESPONSE_STATUS, Status
from longhaul.core.models import Job, ToolCall
from longhaul.core.models.costs import LedgerLine
from longhaul.core.streams.progress import job_progress
from longhaul.schemas.jobs import BudgetHoldView, JobDetail, JobSummary, ToolCallView
from longhaul.schemas.responses import DEFAULT_TEXT, ResponseError, ResponseObject


@dataclass(frozen=True)
class Extras:
    """What a view shows beyond the job row: its cost and its archived files."""

    cost: dict[str, Any] | None = None
    artifacts: list[dict[str, Any]] = field(default_factory=list)


NEW_JOB = Extras()  # a job just inserted has no ledger and no artifacts: nothing to read


def load_extras(
    session: Session, jobs: Sequence[Job], base_url: str | None = None
) -> dict[str, Extras]:
    """Costs and artifacts of any number of jobs in two queries (a page of ``GET /v1/jobs``)."""
    ids = [job.id for job in jobs]
    if not ids:
        return {}
    lines: dict[str, list[LedgerLine]] = {job_id: [] for job_id in ids}
    for line in session.scalars(
        select(LedgerLine)
        .where(LedgerLine.job_id.in_(ids))
        .order_by(LedgerLine.job_id, LedgerLine.id)
    ):
        lines[line.job_id].append(line)
    artifacts = artifact_summaries_by_job(session, ids, base_url)
    return {job_id: Extras(summarize_lines(lines[job_id]), artifacts[job_id]) for job_id in ids}


def _extras(session: Session, job: Job, base_url: str | None, extras: Extras | None) -> Extras:
    return extras if extras is not None else load_extras(session, [job], base_url)[job.id]


def build_job_summary(
    session: Session, job: Job, base_url: str | None = None, *, extras: Extras | None = None
) -> JobSummary:
    """The compact job: what webhooks carry and what job views start from."""
    extras = _extras(session, job, base_url, extras)
    return JobSummary.model_validate(_summary_fields(job, extras))


def _summary_fields(job: Job, extras: Extras) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "upstream_status": job.upstream_status,
        "upstream_response_id": job.upstream_response_id,
        "model": job.model,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "output_text": job.output_text,
        "usage": job.usage,
        "error": job.error,
        "metadata": job.job_metadata or {},
        "cost": extras.cost,
        "artifacts": extras.artifacts,
    }


def job_summary(
    session: Session, job: Job, base_url: str | None = None, *, extras: Extras | None = None
) -> dict[str, Any]:
    """``build_job_summary`` as JSON-ready data (the webhook event's ``data``)."""
    return build_job_summary(session, job, base_url, extras=extras).model_dump(mode="json")


def build_job_detail(session: Session, job: Job, base_url: str | None = None) -> JobDetail:
    """``GET /v1/jobs/{id}``: the summary plus timings, attempts, polls and history."""
    calls = session.execute(
        select(ToolCall).where(ToolCall.job_id == job.id).order_by(ToolCall.output_index)
    ).scalars()
    hold = hold_view(session, job.id)
    return JobDetail.model_validate(
        {
            **_summary_fields(job, _extras(session, job, base_url, None)),
            "previous_job_id": job.previous_job_id,
            "webhook_url": job.webhook_url,
            "completion_window": job.completion_window,
            "service_tier": job.service_tier,
            "possibly_duplicated": job.possibly_duplicated,
            "submit_attempts": job.submit_attempts,
            "poll_count": job.poll_count,
            "next_poll_at": job.next_poll_at,
            "deadline_at": job.deadline_at,
            "submitted_at": job.submitted_at,
            "upstream_finished_at": job.upstream_finished_at,
            "updated_at": job.updated_at,
            "state_history": job.state_history,
            "budget_hold": None if hold is None else BudgetHoldView.model_validate(hold),
            "tool_calls": [
                ToolCallView.model_validate(
                    {
                        "output_index": c.output_index,
                        "id": c.item_id,
                        "type": c.type,
                        "status": c.status,
                        **call_cost(c),
                    }
                )
                for c in calls
            ],
            "progress": job_progress(session, job.id),  # from the event stream, if it has one
        }
    )


def job_view(session: Session, job: Job, base_url: str | None = None) -> dict[str, Any]:
    """``build_job_detail`` as JSON-ready data (the viewer's pages)."""
    return build_job_detail(session, job, base_url).model_dump(mode="json", exclude_unset=True)


def build_response(
    session: Session, job: Job, base_url: str | None = None, *, extras: Extras | None = None
) -> ResponseObject:
    """``GET /v1/responses/{id}``: a Response object with Longhaul's id. Live status while
    running; the upstream's final object once done; plus a ``longhaul`` extension. ``extras``
    given (e.g. ``NEW_JOB``) spares the two reads."""
    extras = _extras(session, job, base_url, extras)
    request = job.request_body
    final = job.status not in RESPONSE_STATUS and job.response_body
    if final:
        body = dict(job.response_body or {})
    else:  # Longhaul's own, shaped as OpenAI's schema wants it
        body = {
            "created_at": int(job.created_at.timestamp()),
            "error": None,
            "incomplete_details": None,
            "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"),
            "model": job.model,
            "output": [],
            "parallel_tool_calls": request.get("parallel_tool_calls", True),
            "previous_response_id": request.get("previous_response_id"),
            "reasoning": request.get("reasoning"),
            "service_tier": request.get("service_tier"),
            "temperature": request.get("temperature"),
            "text": request.get("text") or DEFAULT_TEXT,
            "tool_choice": request.get("tool_choice", "auto"),
            "tools": request.get("tools") or [],
            "top_p": request.get("top_p"),
            "truncation": request.get("truncation"),
        }
    body["id"] = job.id
    body["object"] = "response"
    body["background"] = True
    body["status"] = RESPONSE_STATUS.get(job.status, job.status)
    body["metadata"] = job.job_metadata or {}
    if job.previous_job_id:
        body["previous_response_id"] = job.previous_job_id
    if job.status == Status.FAILED and job.error:  # the upstream's error, or Longhaul's own
        body["error"] = ResponseError.of(job.error)
    body["longhaul"] = {
        "job_status": job.status,
        "mode": request_mode(request),
        "upstream_response_id": job.upstream_response_id,
        "upstream_status": job.upstream_status,
        "possibly_duplicated": job.possibly_duplicated,
        "error": job.error if job.status == Status.FAILED else None,
        "cost": extras.cost,
        "artifacts": extras.artifacts,
    }
    return ResponseObject.model_validate(body)


def response_view(
    session: Session, job: Job, base_url: str | None = None, *, extras: Extras | None = None
) -> dict[str, Any]:
    """``build_response`` as JSON-ready data (event streams, the cancel route)."""
    view = build_response(session, job, base_url, extras=extras)
    return view.model_dump(mode="json", exclude_unset=True)


def response_json(
    session: Session, job: Job, base_url: str | None = None, *, extras: Extras | None = None
) -> bytes:
    """``response_view`` serialized in one step by pydantic (the create's answer: a dict and
    then ``json.dumps`` cost it twice as much)."""
    return (
        build_response(session, job, base_url, extras=extras)
        .model_dump_json(exclude_unset=True)
        .encode()
    )

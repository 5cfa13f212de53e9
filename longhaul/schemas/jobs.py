"""Longhaul's native job views: ``GET /v1/jobs`` rows and ``GET /v1/jobs/{id}``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from longhaul.schemas.artifacts import ArtifactSummary
from longhaul.schemas.common import Money, Timestamp
from longhaul.schemas.costs import CostSummary

JobStatus = Literal[
    "queued",
    "submitting",
    "in_progress",
    "cancelling",
    "finalizing",
    "completed",
    "failed",
    "cancelled",
    "incomplete",
]
"""Longhaul's job statuses (``core.jobs.lifecycle.Status``; schemas do not import core, a test
holds the two equal)."""


class JobSummary(BaseModel):
    """The compact job: a row of ``GET /v1/jobs`` and the ``data`` of a webhook event."""

    id: str
    object: Literal["longhaul.job"] = "longhaul.job"
    status: JobStatus = Field(description="Longhaul's job status (docs/architecture.md).")
    upstream_status: str | None
    upstream_response_id: str | None
    model: str
    created_at: Timestamp
    finished_at: Timestamp | None
    output_text: str | None
    usage: dict[str, Any] | None = Field(description="The upstream's ``usage``, as it came.")
    error: dict[str, Any] | None = Field(
        description="``code``, ``message`` and, if known, ``type``."
    )
    metadata: dict[str, str]
    cost: CostSummary | None
    artifacts: list[ArtifactSummary]


class ToolCallView(BaseModel):
    output_index: int
    id: str | None
    type: str
    status: str | None
    cost: Money | None
    cost_details: dict[str, Money | None] | None
    started_at: Timestamp | None
    ended_at: Timestamp | None


class BudgetHoldView(BaseModel):
    amount_usd: Money
    status: Literal["held", "released"]
    released_at: Timestamp | None
    estimate: dict[str, Any] | None


class JobDetail(JobSummary):
    """``GET /v1/jobs/{id}``: the summary plus timings, attempts, polls and history."""

    previous_job_id: str | None
    webhook_url: str | None
    completion_window: str | None
    service_tier: str | None
    possibly_duplicated: bool
    submit_attempts: int
    poll_count: int
    next_poll_at: Timestamp | None
    deadline_at: Timestamp | None
    submitted_at: Timestamp | None
    upstream_finished_at: Timestamp | None
    updated_at: Timestamp | None
    state_history: list[dict[str, Any]]
    budget_hold: BudgetHoldView | None
    tool_calls: list[ToolCallView]
    progress: dict[str, Any] | None = Field(
        description="Live progress from the job's event stream, if it has one."
    )
    tenant_month_spend_usd: Money | None = Field(
        None, description="The tenant's spend this month (``GET /v1/jobs/{id}`` only)."
    )

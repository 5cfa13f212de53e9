"""A job's ``progress`` (in ``GET /v1/jobs/{id}``), summarised from its stored events: when the
last one came, the reasoning summary and the output text so far, tool calls started and
finished."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from longhaul.core.models.streams import JobEvent, JobStream

_TYPES = (
    "response.output_item.added",
    "response.output_item.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.output_text.delta",
    "response.output_text.done",
)
_SKIP = {"reasoning", "message"}  # output items that are not tool calls


def job_progress(session: Session, job_id: str) -> dict[str, Any] | None:
    """None for a job without an event stream."""
    stream = session.get(JobStream, job_id)
    if stream is None:
        return None
    last_at = session.execute(
        select(func.max(JobEvent.created_at)).where(JobEvent.job_id == job_id)
    ).scalar_one_or_none()
    rows = session.execute(
        select(JobEvent.data)
        .where(
            JobEvent.job_id == job_id,
            JobEvent.type.in_(_TYPES),
        )
        .order_by(JobEvent.sequence_number)
    ).scalars()
    summary: dict[tuple[int, int], str] = {}
    text: dict[tuple[int, int], str] = {}
    tools: dict[int, dict[str, Any]] = {}
    for data in rows:
        event = json.loads(data)
        kind = event.get("type")
        index = int(event.get("output_index") or 0)
        if kind in ("response.output_item.added", "response.output_item.done"):
            item = event.get("item") or {}
            if item.get("type") in _SKIP:
                continue
            done = kind.endswith(".done")
            tools[index] = {
                "output_index": index,
                "id": item.get("id"),
                "type": item.get("type"),
                "status": "finished" if done else "started",
            }
        elif kind.startswith("response.reasoning_summary_text."):
            key = (index, int(event.get("summary_index") or 0))
            if kind.endswith(".done"):
                summary[key] = str(event.get("text", ""))
            else:
                summary[key] = summary.get(key, "") + str(event.get("delta", ""))
        else:
            key = (index, int(event.get("content_index") or 0))
            if kind.endswith(".done"):
                text[key] = str(event.get("text", ""))
            else:
                text[key] = text.get(key, "") + str(event.get("delta", ""))
    calls = [tools[i] for i in sorted(tools)]
    return {
        "stream": stream.status,
        "events": stream.next_sequence_number,
        "last_event_at": last_at.isoformat() if last_at else None,
        "reasoning_summary": "\n\n".join(summary[k] for k in sorted(summary)),
        "output_text": "".join(text[k] for k in sorted(text)),
        "tool_calls": calls,
        "tool_calls_started": len(calls),
        "tool_calls_finished": sum(1 for c in calls if c["status"] == "finished"),
    }

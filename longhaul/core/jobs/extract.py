"""Reading a Responses object: output text, tool calls, final status."""

from __future__ import annotations

from typing import Any

from longhaul.core.jobs.lifecycle import UPSTREAM_TERMINAL, Status

NON_TOOL_ITEMS = frozenset({"message", "reasoning", "compaction", "additional_tools"})


def output_text(response: dict[str, Any]) -> str:
    """What the SDK's ``response.output_text`` gives: every ``output_text`` part, concatenated."""
    parts: list[str] = []
    for item in response.get("output") or []:
        if item.get("type") != "message":
            continue
        for part in item.get("content") or []:
            if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
    return "".join(parts)


def tool_calls(response: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(output index, item) for each output item that is a tool call or a tool's output."""
    return [
        (index, item)
        for index, item in enumerate(response.get("output") or [])
        if isinstance(item, dict) and item.get("type") not in NON_TOOL_ITEMS
    ]


def final_status(
    upstream_status: str | None, error: dict[str, Any] | None, cancel_requested: bool
) -> Status:
    """Longhaul's terminal status. A Longhaul-side error (deadline, submit failure) fails the job
    unless the user asked to cancel it."""
    if upstream_status in UPSTREAM_TERMINAL:
        if error and error.get("code") == "deadline_exceeded":
            return Status.FAILED
        return Status(upstream_status)
    if cancel_requested and not error:
        return Status.CANCELLED
    if error:
        return Status.FAILED
    return Status.CANCELLED if cancel_requested else Status.FAILED

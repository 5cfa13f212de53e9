"""The stream events of a simulated response, each with the time it happens.

A response's events are a pure function of its record: ``response.created`` and
``response.queued`` at creation, ``response.in_progress`` when it leaves the queue, then the
events of each output item spread evenly over the run, and the terminal event
(``response.completed|failed|incomplete``) at the terminal time, carrying the same object a
plain ``GET`` returns from then on. ``sequence_number`` is the event's index (0-based,
contiguous), so a resume with ``starting_after=N`` is a slice. A cancelled response has no
stream event for it (as upstream): its stream just ends.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from typing import Any

from .images import render_image
from .render import response_object
from .state import ResponseRecord

TERMINAL_EVENTS = {
    "completed": "response.completed",
    "failed": "response.failed",
    "incomplete": "response.incomplete",
}
WORDS_PER_DELTA = 3


@dataclass(frozen=True)
class Timed:
    at: float
    event: dict[str, Any]


def build_events(record: ResponseRecord) -> list[Timed]:
    """Every event of ``record`` in order, numbered from 0."""
    background = record.background
    head: list[tuple[float, dict[str, Any]]] = [
        (
            record.created,
            _lifecycle(record, "response.created", "queued" if background else "in_progress"),
        ),
    ]
    if background:
        head.append((record.created, _lifecycle(record, "response.queued", "queued")))
    head.append((record.queued_until, _lifecycle(record, "response.in_progress", "in_progress")))

    body: list[dict[str, Any]] = []
    if record.final_status in ("completed", "incomplete"):
        for index, item in enumerate(record.generated.output):
            body.extend(item_events(index, item, record.body))
    start, end = record.queued_until, record.terminal_at
    timed = list(head)
    if math.isfinite(end):
        step = (end - start) / (len(body) + 1)
        timed.extend((start + step * (i + 1), event) for i, event in enumerate(body))
        terminal = TERMINAL_EVENTS.get(record.final_status)
        if terminal is not None:
            snapshot = response_object(record, end)
            timed.append((end, {"type": terminal, "response": snapshot}))
    return [Timed(at, {**event, "sequence_number": n}) for n, (at, event) in enumerate(timed)]


def _lifecycle(record: ResponseRecord, kind: str, status: str) -> dict[str, Any]:
    snapshot = response_object(record, record.created)
    snapshot.update(status=status, output=[], completed_at=None)
    snapshot.pop("usage", None)
    snapshot.pop("tool_usage", None)
    return {"type": kind, "response": snapshot}


def chunks(text: str, words: int = WORDS_PER_DELTA) -> list[str]:
    """Split ``text`` into deltas of a few words each (whitespace kept, so they join back)."""
    tokens = re.findall(r"\s*\S+\s*", text) or ([text] if text else [])
    return ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]


def item_events(index: int, item: dict[str, Any], request: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of one output item, from ``output_item.added`` to ``output_item.done``."""
    kind = item.get("type")
    ref = {"item_id": item["id"], "output_index": index}
    added = _in_progress_form(item)
    events: list[dict[str, Any]] = [
        {"type": "response.output_item.added", "output_index": index, "item": added}
    ]
    if kind == "reasoning":
        events += _reasoning(ref, item)
    elif kind == "message":
        events += _message(ref, item)
    elif kind == "web_search_call":
        events += _phases(ref, "web_search_call", ("in_progress", "searching", "completed"))
    elif kind == "file_search_call":
        events += _phases(ref, "file_search_call", ("in_progress", "searching", "completed"))
    elif kind == "code_interpreter_call":
        events += _code(ref, item)
    elif kind == "image_generation_call":
        events += _image(ref, item, request)
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def _in_progress_form(item: dict[str, Any]) -> dict[str, Any]:
    kind = item.get("type")
    if kind == "reasoning":
        return {"id": item["id"], "type": "reasoning", "summary": []}
    if kind == "message":
        return {**item, "status": "in_progress", "content": []}
    if kind == "web_search_call":
        action = item.get("action") or {}
        return {**item, "status": "in_progress", "action": {"type": action.get("type", "search")}}
    if kind == "file_search_call":
        return {**item, "status": "in_progress", "queries": [], "results": None}
    if kind == "code_interpreter_call":
        return {**item, "status": "in_progress", "code": "", "outputs": None}
    if kind == "image_generation_call":
        return {"id": item["id"], "type": kind, "status": "in_progress", "result": None}
    return {**item, "status": "in_progress"}


def _reasoning(ref: dict[str, Any], item: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for s, part in enumerate(item.get("summary") or []):
        at = {**ref, "summary_index": s}
        text = str(part.get("text", ""))
        events.append(
            {
                "type": "response.reasoning_summary_part.added",
                **at,
                "part": {"type": "summary_text", "text": ""},
            }
        )
        events += [
            {"type": "response.reasoning_summary_text.delta", **at, "delta": d}
            for d in chunks(text)
        ]
        events.append({"type": "response.reasoning_summary_text.done", **at, "text": text})
        events.append(
            {
                "type": "response.reasoning_summary_part.done",
                **at,
                "part": {"type": "summary_text", "text": text},
            }
        )
    return events


def _message(ref: dict[str, Any], item: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for c, part in enumerate(item.get("content") or []):
        at = {**ref, "content_index": c}
        text = str(part.get("text", ""))
        annotations = list(part.get("annotations") or [])
        events.append(
            {
                "type": "response.content_part.added",
                **at,
                "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
            }
        )
        written, pending = 0, list(enumerate(annotations))
        for delta in chunks(text):
            events.append(
                {"type": "response.output_text.delta", **at, "delta": delta, "logprobs": []}
            )
            written += len(delta)
            while pending and _annotation_end(pending[0][1]) <= written:
                a_index, annotation = pending.pop(0)
                events.append(_annotation_added(at, a_index, annotation))
        events += [_annotation_added(at, i, a) for i, a in pending]
        events.append({"type": "response.output_text.done", **at, "text": text, "logprobs": []})
        events.append({"type": "response.content_part.done", **at, "part": part})
    return events


def _annotation_end(annotation: dict[str, Any]) -> int:
    return int(annotation.get("end_index", annotation.get("index", 0)))


def _annotation_added(at: dict[str, Any], index: int, annotation: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "response.output_text.annotation.added",
        **at,
        "annotation_index": index,
        "annotation": annotation,
    }


def _phases(ref: dict[str, Any], kind: str, phases: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"type": f"response.{kind}.{phase}", **ref} for phase in phases]


def _code(ref: dict[str, Any], item: dict[str, Any]) -> list[dict[str, Any]]:
    code = str(item.get("code") or "")
    lines = code.splitlines(keepends=True)
    return [
        {"type": "response.code_interpreter_call.in_progress", **ref},
        *({"type": "response.code_interpreter_call_code.delta", **ref, "delta": d} for d in lines),
        {"type": "response.code_interpreter_call_code.done", **ref, "code": code},
        {"type": "response.code_interpreter_call.interpreting", **ref},
        {"type": "response.code_interpreter_call.completed", **ref},
    ]


def _image(
    ref: dict[str, Any], item: dict[str, Any], request: dict[str, Any]
) -> list[dict[str, Any]]:
    tool = next(
        (
            t
            for t in request.get("tools") or []
            if isinstance(t, dict) and t.get("type") == "image_generation"
        ),
        {},
    )
    wanted = tool.get("partial_images")
    partials = int(wanted) if isinstance(wanted, int) and 0 <= wanted <= 3 else 1
    fmt = str(item.get("output_format") or "png")
    keys = ("size", "quality", "background", "output_format")
    extra: dict[str, Any] = {k: item[k] for k in keys if k in item}
    events = [
        {"type": "response.image_generation_call.in_progress", **ref},
        {"type": "response.image_generation_call.generating", **ref},
    ]
    for n in range(partials):
        data = render_image(f"{item['id']}:partial:{n}", fmt, "256x256")
        events.append(
            {
                "type": "response.image_generation_call.partial_image",
                **ref,
                "partial_image_index": n,
                "partial_image_b64": base64.b64encode(data).decode(),
                **extra,
            }
        )
    events.append({"type": "response.image_generation_call.completed", **ref})
    return events

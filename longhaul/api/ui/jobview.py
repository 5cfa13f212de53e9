"""What the job page shows, gathered from core's views (one place, so the bench measures it)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from longhaul.api.ui import render
from longhaul.core.jobs.lifecycle import ACTIVE
from longhaul.core.jobs.views import job_view
from longhaul.core.models import Job
from longhaul.core.viewer import browse
from longhaul.core.webhooks.views import job_deliveries

HIGHLIGHT_CHARS = 6_000  # code highlighted per page; past it code is shown plain (Pygments is slow)
PREVIEW_TYPES = ("text/", "application/json", "application/csv")
INLINE_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
TOOL_LABELS = {
    "web_search_call": "Web search",
    "file_search_call": "File search",
    "code_interpreter_call": "Code interpreter",
    "image_generation_call": "Image generation",
    "function_call": "Function call",
    "function_call_output": "Function output",
    "mcp_call": "MCP call",
    "mcp_list_tools": "MCP tools",
    "mcp_approval_request": "MCP approval request",
    "mcp_approval_response": "MCP approval response",
    "computer_call": "Computer use",
    "local_shell_call": "Shell",
    "custom_tool_call": "Custom tool",
}


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _texts(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in item.get("content") or [] if isinstance(c, dict)]


def _image_artifacts(artifacts: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_item: dict[str, list[dict[str, Any]]] = {}
    for a in artifacts:
        if a.get("item_id"):
            by_item.setdefault(a["item_id"], []).append(a)
    return by_item


def output_sections(
    output: list[dict[str, Any]], artifacts: list[dict[str, Any]]
) -> dict[str, Any]:
    """Split the Response's output into reasoning, messages and tool calls drawn by type."""
    by_item = _image_artifacts(artifacts)
    reasoning: list[Any] = []
    messages: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    budget = [HIGHLIGHT_CHARS]
    for index, item in enumerate(output):
        if not isinstance(item, dict):
            continue
        kind = str(item.get("type", ""))
        if kind == "reasoning":
            for part in item.get("summary") or []:
                if isinstance(part, dict) and part.get("text"):
                    reasoning.append(render.markdown(str(part["text"])))
        elif kind == "message":
            for part in _texts(item):
                if part.get("type") == "output_text":
                    messages.append(
                        {
                            "html": render.markdown(str(part.get("text") or "")),
                            "citations": [
                                a for a in part.get("annotations") or [] if isinstance(a, dict)
                            ],
                        }
                    )
                elif part.get("type") == "refusal":
                    messages.append({"refusal": str(part.get("refusal") or ""), "citations": []})
        else:
            tools.append(_tool(index, kind, item, by_item.get(str(item.get("id")), []), budget))
    return {"reasoning": reasoning, "messages": messages, "tools": tools}


def _tool(
    index: int, kind: str, item: dict[str, Any], files: list[dict[str, Any]], budget: list[int]
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "index": index,
        "type": kind,
        "label": TOOL_LABELS.get(kind, kind.replace("_", " ")),
        "id": item.get("id"),
        "status": item.get("status"),
        "files": files,
    }
    if kind == "web_search_call":
        action = item.get("action") or {}
        queries = action.get("queries") or ([action["query"]] if action.get("query") else [])
        view["queries"] = [str(q) for q in queries]
        view["action"] = action.get("type")
        view["sources"] = [
            str(s.get("url")) for s in action.get("sources") or [] if isinstance(s, dict)
        ]
        if action.get("url"):
            view["sources"].append(str(action["url"]))
        view["sources"] = [u for u in view["sources"] if u.startswith(("https://", "http://"))]
    elif kind == "file_search_call":
        view["queries"] = [str(q) for q in item.get("queries") or []]
        view["results"] = [r for r in item.get("results") or [] if isinstance(r, dict)]
    elif kind == "code_interpreter_call":
        source = str(item.get("code") or "")
        budget[0] -= len(source)
        view["code"] = render.code(source, "python", plain=budget[0] < 0)
        view["logs"] = [
            str(o.get("logs"))
            for o in item.get("outputs") or []
            if isinstance(o, dict) and o.get("type") == "logs"
        ]
        view["container_id"] = item.get("container_id")
    elif kind == "image_generation_call":
        view["prompt"] = item.get("revised_prompt")
        view["size"] = item.get("size")
    elif kind in {"function_call", "custom_tool_call"}:
        view["name"] = item.get("name")
        view["arguments"] = _maybe_json(item.get("arguments") or item.get("input"))
        view["call_id"] = item.get("call_id")
    elif kind == "function_call_output":
        view["call_id"] = item.get("call_id")
        view["output"] = _maybe_json(item.get("output"))
    elif kind in {"mcp_call", "mcp_approval_request"}:
        view["server"] = item.get("server_label")
        view["name"] = item.get("name")
        view["arguments"] = _maybe_json(item.get("arguments"))
        view["output"] = item.get("output")
        view["error"] = item.get("error")
    elif kind == "mcp_list_tools":
        view["server"] = item.get("server_label")
        view["tool_names"] = [
            str(t.get("name")) for t in item.get("tools") or [] if isinstance(t, dict)
        ]
    else:  # a type without its own drawing: its JSON
        view["raw"] = render.pretty_json(item)
    return view


def _maybe_json(value: Any) -> str:
    if isinstance(value, str):
        try:
            import json

            return render.pretty_json(json.loads(value))
        except ValueError:
            return value
    return render.pretty_json(value) if value is not None else ""


def timeline(
    view: dict[str, Any],
    deliveries: list[dict[str, Any]],
    inbound: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """State history, OpenAI's webhooks arriving and our webhook attempts on one time axis."""
    events: list[dict[str, Any]] = [
        {
            "at": w["received_at"],
            "kind": "inbound",
            "label": f"OpenAI webhook {w['type']}",
            "detail": str(w["webhook_id"]),
        }
        for w in inbound or []
    ]
    created = _parse(view.get("created_at"))
    if created:
        events.append({"at": created, "kind": "state", "label": "created", "detail": ""})
    for entry in view.get("state_history") or []:
        at = _parse(entry.get("at"))
        if at:
            label, detail = entry.get("status"), entry.get("reason") or ""
            events.append({"at": at, "kind": "state", "label": label, "detail": detail})
    for d in deliveries:
        for a in d.get("attempts") or []:
            at = _parse(a.get("started_at"))
            if at:
                code = a.get("status_code")
                events.append(
                    {
                        "at": at,
                        "kind": "webhook",
                        "label": f"webhook attempt {a.get('number')}",
                        "detail": f"{code or a.get('error') or 'no answer'} · {d.get('url')}",
                    }
                )
    events.sort(key=lambda e: e["at"])
    start = events[0]["at"] if events else None
    for e in events:
        e["offset"] = render.seconds((e["at"] - start).total_seconds()) if start else ""
    return events


def cost_chart(cost: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Bars for the cost chart: by kind of line, widths in percent of the largest."""
    if not cost:
        return []
    parts = [(k, Decimal(v)) for k, v in (cost.get("by_kind") or {}).items()]
    parts.sort(key=lambda p: p[1], reverse=True)
    top = max((v for _, v in parts), default=Decimal(0))
    return [
        {
            "label": k,
            "amount": render.money(v),
            "pct": float(v / top * 100) if top else 0.0,
        }
        for k, v in parts
    ]


def job_page(session: Session, job: Job, link: str) -> dict[str, Any]:
    """Everything the job page renders (links in ``view`` point at the JSON API)."""
    view = job_view(session, job, link)
    artifacts = [dict(a) for a in view.get("artifacts") or []]
    for a in artifacts:
        a["inline"] = a.get("status") == "stored" and a.get("content_type") in INLINE_IMAGES
        a["previewable"] = a.get("status") == "stored" and str(
            a.get("content_type") or ""
        ).startswith(PREVIEW_TYPES)
    deliveries = job_deliveries(session, job.id)
    body = job.response_body or {}
    raw_output = body.get("output")
    output: list[dict[str, Any]] = raw_output if isinstance(raw_output, list) else []
    sections = output_sections(output, artifacts)
    calls = {c.get("output_index"): c for c in view.get("tool_calls") or []}
    for tool in sections["tools"]:  # each call's share of the ledger and its timing
        call = calls.get(tool["index"]) or {}
        tool["cost"] = call.get("cost")
        start, end = _parse(call.get("started_at")), _parse(call.get("ended_at"))
        tool["took"] = render.duration(start, end) if start and end else None
    return {
        "job": job,
        "view": view,
        "active": job.status in ACTIVE,
        "artifacts": artifacts,
        "deliveries": deliveries,
        "timeline": timeline(view, deliveries, browse.inbound_webhooks(session, job.id)),
        "cost": view.get("cost"),
        "cost_bars": cost_chart(view.get("cost")),
        "sections": sections,
        "incomplete": body.get("incomplete_details"),
        "request_input": render.pretty_json(job.request_body.get("input")),
        "instructions": job.request_body.get("instructions"),
    }


def raw(session: Session, job: Job, link: str) -> str:
    """The raw JSON tab: the job view and the upstream Response (loaded when the tab opens)."""
    return render.pretty_json({**job_view(session, job, link), "response": job.response_body})


def live(view: dict[str, Any]) -> dict[str, Any]:
    """The small JSON the job page polls while the job runs."""
    keys = (
        "id",
        "status",
        "upstream_status",
        "poll_count",
        "submit_attempts",
        "next_poll_at",
        "updated_at",
        "submitted_at",
        "finished_at",
        "output_text",
        "progress",
    )
    return {k: view.get(k) for k in keys if k in view}

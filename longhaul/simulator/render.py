"""JSON shapes of the simulated resources, as in OpenAI's OpenAPI spec."""

from __future__ import annotations

from typing import Any

from .outputs import FileSpec, is_reasoning_model, new_id
from .state import Container, ResponseRecord

_TIERS = {
    "flex": "flex",
    "scale": "scale",
    "priority": "priority",
    "fast": "priority",
    "ultrafast": "ultrafast",
}


def service_tier(requested: object) -> str:
    """The tier actually used: auto/default → default, fast → priority (as OpenAI reports)."""
    return _TIERS.get(str(requested or "auto"), "default")


def error_body(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def response_object(record: ResponseRecord, now: float) -> dict[str, Any]:
    body = record.body
    status = record.status_at(now)
    model = str(body.get("model") or "")
    reasoning = None
    if is_reasoning_model(model):
        cfg = body.get("reasoning") or {}
        reasoning = {"effort": cfg.get("effort") or "medium", "summary": cfg.get("summary")}
    obj: dict[str, Any] = {
        "id": record.id,
        "object": "response",
        "created_at": int(record.created),
        "status": status,
        "background": bool(body.get("background")),
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": reasoning,
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": service_tier(body.get("service_tier")),
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_logprobs": body.get("top_logprobs", 0),
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "metadata": body.get("metadata") or {},
    }
    conversation = body.get("conversation")
    if conversation:
        conv_id = conversation.get("id") if isinstance(conversation, dict) else conversation
        obj["conversation"] = {"id": conv_id}
    if status == "completed":
        obj["completed_at"] = int(record.finished_at(now) or now)
    if status in ("completed", "incomplete"):
        obj["output"] = record.generated.output
        obj["usage"] = record.generated.usage
        obj["tool_usage"] = record.generated.tool_usage
    if status == "incomplete":
        obj["incomplete_details"] = {"reason": "max_output_tokens"}
    if status == "failed":
        obj["error"] = {
            "code": "server_error",
            "message": "The simulated model failed to generate a response (scenario 'fail').",
        }
    return obj


def input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request ``input`` as stored items with ids (what ``input_items`` lists)."""
    value = body.get("input")
    raw = [{"role": "user", "content": value}] if isinstance(value, str) else (value or [])
    items: list[dict[str, Any]] = []
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        item = dict(entry)
        if item.get("type", "message") == "message":
            item["type"] = "message"
            role = item.get("role", "user")
            content = item.get("content")
            if role == "assistant":
                parts = (
                    [{"type": "output_text", "text": content, "annotations": [], "logprobs": []}]
                    if isinstance(content, str)
                    else content
                )
                item.setdefault("id", new_id("msg"))
            else:
                parts = (
                    [{"type": "input_text", "text": content}]
                    if isinstance(content, str)
                    else content
                )
                item.setdefault("id", new_id("msg"))
            item["content"] = parts or []
            item["status"] = "completed"
        item.setdefault("id", new_id("item"))
        items.append(item)
    return items


def container_object(container: Container) -> dict[str, Any]:
    created = int(container.created)
    return {
        "id": container.id,
        "object": "container",
        "name": container.name or f"Container for {container.response_id}",
        "created_at": created,
        "status": "active",
        "last_active_at": created,
        "expires_after": {"anchor": "last_active_at", "minutes": container.expires_minutes},
        "memory_limit": container.memory_limit,
    }


def container_file_object(spec: FileSpec, container: Container) -> dict[str, Any]:
    return {
        "id": spec.id,
        "object": "container.file",
        "container_id": container.id,
        "created_at": int(container.created),
        "bytes": spec.blob.size,
        "path": spec.path,
        "source": spec.source,
    }


def file_object(spec: FileSpec, created: int) -> dict[str, Any]:
    return {
        "id": spec.id,
        "object": "file",
        "bytes": spec.blob.size,
        "created_at": created,
        "filename": spec.filename,
        "purpose": "assistants",
        "status": "processed",
    }


def cursor_page(
    data: list[dict[str, Any]], *, after: str | None, limit: int, order: str
) -> dict[str, Any]:
    """``{object: list, data, first_id, last_id, has_more}`` page over ``data`` (asc order)."""
    ordered = list(reversed(data)) if order == "desc" else list(data)
    if after:
        ids = [d["id"] for d in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(ordered) > limit,
    }

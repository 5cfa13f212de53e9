"""Deterministic, plausible ``Response.output`` items, files and usage derived from a request.

Everything here is a pure function of the request body (minus ``metadata``): the same request
gives the same text, tool calls, file bytes and token counts; only ids and timestamps differ.
Item order follows the real API: ``reasoning`` first, then tool calls, then the ``message``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .blobs import Blob
from .images import MIME_TYPES, render_image

REASONING_TOKENS = {
    "none": 0,
    "minimal": 64,
    "low": 256,
    "medium": 1024,
    "high": 4096,
    "xhigh": 8192,
    "max": 16384,
}
# Output image tokens for a 1024x1024 image by quality (gpt-image style accounting).
IMAGE_TOKENS = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 6240, "max": 8320}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


@dataclass
class FileSpec:
    """A file the response produced: in a container (``container_id``) or in the Files API."""

    id: str
    filename: str
    blob: Blob
    container_id: str | None = None
    source: str = "assistant"  # in a container: "assistant" (made by code) or "user" (uploaded)

    @property
    def path(self) -> str:
        return f"/mnt/data/{self.filename}"


@dataclass
class Generated:
    output: list[dict[str, Any]]
    usage: dict[str, Any]
    tool_usage: dict[str, Any]
    container_ids: list[str] = field(default_factory=list)
    files: list[FileSpec] = field(default_factory=list)


def is_reasoning_model(model: str) -> bool:
    return model.startswith(("o", "gpt-5", "gpt-6"))


def input_text(body: dict[str, Any]) -> str:
    """All user-visible text in ``input``, joined (strings, message contents, input_text parts)."""
    value = body.get("input")
    if isinstance(value, str):
        return value
    texts: list[str] = []
    for item in value or []:
        if not isinstance(item, dict):
            continue
        content = item.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("text")
            )
        elif isinstance(item.get("output"), str):
            texts.append(item["output"])
    return "\n".join(texts)


def request_seed(body: dict[str, Any]) -> str:
    material = {k: v for k, v in body.items() if k not in {"metadata", "background", "store"}}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def tokens(text: str) -> int:
    """Rough GPT-style token count: one token per four characters."""
    return math.ceil(len(text) / 4)


class _Text:
    """Builds the assistant text while recording annotation offsets."""

    def __init__(self) -> None:
        self.text = ""
        self.annotations: list[dict[str, Any]] = []

    def add(self, chunk: str) -> None:
        self.text += chunk

    def cite(self, chunk: str, annotation: dict[str, Any], index_only: bool = False) -> None:
        start = len(self.text)
        self.text += chunk
        if index_only:
            annotation["index"] = len(self.text)
        else:
            annotation["start_index"], annotation["end_index"] = start, len(self.text)
        self.annotations.append(annotation)


def generate(
    body: dict[str, Any],
    *,
    base_url: str,
    incomplete: bool = False,
    files: int | None = None,
    filesize: int | None = None,
    prior_input_tokens: int = 0,
    search: Callable[[list[str], str], list[dict[str, Any]] | None] | None = None,
) -> Generated:
    """Build output items, produced files and usage for a finished response."""
    model = str(body.get("model") or "gpt-5.5")
    seed = request_seed(body)
    prompt = input_text(body)
    snippet = " ".join(prompt.split())[:80] or "(empty input)"
    include = set(body.get("include") or [])
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    reasoning_cfg = body.get("reasoning") or {}

    output: list[dict[str, Any]] = []
    text = _Text()
    text.add(f"Simulated answer from {model} to: \u201c{snippet}\u201d.")
    generated_files: list[FileSpec] = []
    container_ids: list[str] = []
    searches = 0
    image_usage = {"input": 0, "output": 0, "text": 0}
    tool_output_tokens = 0

    reasoning_tokens = 0
    if is_reasoning_model(model):
        effort = str(reasoning_cfg.get("effort") or "medium")
        reasoning_tokens = REASONING_TOKENS.get(effort, 1024)
        output.append(_reasoning_item(seed, snippet, len(tools)))

    for tool in tools:
        kind = tool.get("type", "")
        if kind.startswith("web_search"):
            searches += 1
            output.append(_web_search(snippet, seed, text))
        elif kind == "image_generation":
            item, itokens = _image(tool, snippet, seed)
            output.append(item)
            image_usage["output"] += itokens
            image_usage["text"] += tokens(snippet) + 30
            text.add(" Here is the generated image.")
        elif kind == "code_interpreter":
            item, specs = _code_interpreter(
                tool, seed, include, base_url, files=files, filesize=filesize, text=text
            )
            output.append(item)
            container_ids.append(item["container_id"])
            generated_files.extend(specs)
            tool_output_tokens += tokens(item["code"])
        elif kind == "file_search":
            stores = [str(i) for i in tool.get("vector_store_ids") or []]
            found = search(stores, prompt) if search else None
            item, specs = _file_search(tool, snippet, seed, include, text, found)
            output.append(item)
            generated_files.extend(specs)

    message_status = "incomplete" if incomplete else "completed"
    if incomplete:
        text.add(" The answer was cut short")
    output.append(
        {
            "id": new_id("msg"),
            "type": "message",
            "role": "assistant",
            "status": message_status,
            "content": [
                {
                    "type": "output_text",
                    "text": text.text,
                    "annotations": text.annotations,
                    "logprobs": [],
                }
            ],
        }
    )

    in_tokens = (
        tokens(prompt)
        + tokens(str(body.get("instructions") or ""))
        + 12 * len(tools)
        + prior_input_tokens
        + 3
    )
    out_tokens = tokens(text.text) + reasoning_tokens + tool_output_tokens
    max_out = body.get("max_output_tokens")
    if incomplete and isinstance(max_out, int) and max_out > 0:
        out_tokens = max_out
        reasoning_tokens = min(reasoning_tokens, max_out)
    return Generated(
        output=output,
        usage=_usage(in_tokens, out_tokens, reasoning_tokens, prior_input_tokens, body),
        tool_usage=_tool_usage(searches, image_usage),
        container_ids=container_ids,
        files=generated_files,
    )


def _usage(
    in_tokens: int, out_tokens: int, reasoning: int, prior: int, body: dict[str, Any]
) -> dict[str, Any]:
    # Prompt caching only applies to prompts of 1024+ tokens, in 128-token blocks; the part
    # repeated from a previous response (or shared via prompt_cache_key) is read from cache and
    # the rest is written to it.
    cached = 0
    if in_tokens >= 1024:
        reusable = prior if prior else (in_tokens // 2 if body.get("prompt_cache_key") else 0)
        cached = (min(reusable, in_tokens) // 128) * 128
    cache_write = in_tokens - cached if in_tokens >= 1024 else 0
    return {
        "input_tokens": in_tokens,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": cache_write},
        "output_tokens": out_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": in_tokens + out_tokens,
    }


def _tool_usage(searches: int, image: dict[str, int]) -> dict[str, Any]:
    return {
        "web_search": {"num_requests": searches},
        "image_gen": {
            "input_tokens": image["text"],
            "input_tokens_details": {"image_tokens": 0, "text_tokens": image["text"]},
            "output_tokens": image["output"],
            "output_tokens_details": {"image_tokens": image["output"], "text_tokens": 0},
            "total_tokens": image["text"] + image["output"],
        },
    }


def _reasoning_item(seed: str, snippet: str, n_tools: int) -> dict[str, Any]:
    plan = "answer directly" if not n_tools else f"use {n_tools} tool(s) and then answer"
    secret = hashlib.shake_256(f"reasoning:{seed}".encode()).digest(96)
    return {
        "id": new_id("rs"),
        "type": "reasoning",
        "summary": [
            {
                "type": "summary_text",
                "text": f"**Planning the response**\n\nThe request is about \u201c{snippet}\u201d; "
                f"I will {plan}.",
            }
        ],
        "encrypted_content": "gAAAAA" + base64.urlsafe_b64encode(secret).decode(),
    }


def _web_search(snippet: str, seed: str, text: _Text) -> dict[str, Any]:
    slug = "-".join(snippet.lower().split()[:4]) or "topic"
    slug = "".join(c for c in slug if c.isalnum() or c == "-")[:40] or "topic"
    sources = [
        (f"https://en.wikipedia.org/wiki/{slug}", "Wikipedia"),
        (f"https://www.example.org/articles/{seed[:8]}/{slug}", "Example Articles"),
        (f"https://news.example.com/{seed[8:16]}", "Example News"),
    ]
    text.add(" Sources:")
    for i, (url, title) in enumerate(sources):
        text.add(" " if i == 0 else ", ")
        text.cite(title, {"type": "url_citation", "url": url, "title": title})
    text.add(".")
    action: dict[str, Any] = {"type": "search", "query": snippet, "queries": [snippet]}
    # Sources are always reported (the real API needs include=web_search_call.action.sources).
    action["sources"] = [{"type": "url", "url": url} for url, _ in sources]
    return {"id": new_id("ws"), "type": "web_search_call", "status": "completed", "action": action}


def _image(tool: dict[str, Any], snippet: str, seed: str) -> tuple[dict[str, Any], int]:
    fmt = str(tool.get("output_format") or "png").lower()
    quality = str(tool.get("quality") or "auto")
    size = str(tool.get("size") or "auto")
    data = render_image(seed, fmt, size)
    billed_quality = "medium" if quality == "auto" else quality
    item = {
        "id": new_id("ig"),
        "type": "image_generation_call",
        "status": "completed",
        "result": base64.b64encode(data).decode(),
        "revised_prompt": f"An illustration of: {snippet}",
        "action": str(tool.get("action") or "generate"),
        "background": str(tool.get("background") or "opaque"),
        "output_format": fmt,
        "quality": "medium" if quality == "auto" else quality,
        "size": "1024x1024" if size == "auto" else size,
    }
    return item, IMAGE_TOKENS.get(billed_quality, 1056)


_FILE_KINDS = (
    ("chart_{n}.png", "image/png"),
    ("results_{n}.csv", "text/csv"),
    ("summary_{n}.txt", "text/plain"),
    ("data_{n}.json", "application/json"),
)


def _code_interpreter(
    tool: dict[str, Any],
    seed: str,
    include: set[str],
    base_url: str,
    *,
    files: int | None,
    filesize: int | None,
    text: _Text,
) -> tuple[dict[str, Any], list[FileSpec]]:
    container = tool.get("container")
    container_id = container if isinstance(container, str) and container else new_id("cntr")
    count = 1 if files is None else files
    specs: list[FileSpec] = []
    for n in range(1, count + 1):
        if filesize is not None and n == count:
            name = "large_output.bin"
            blob = Blob.generated(f"{seed}:{n}", filesize, "application/octet-stream")
        else:
            pattern, ctype = _FILE_KINDS[(n - 1) % len(_FILE_KINDS)]
            name = pattern.format(n=n)
            blob = Blob.of(_small_file(ctype, f"{seed}:{n}"), ctype)
        specs.append(FileSpec(new_id("cfile"), name, blob, container_id))
    code = "import pandas as pd\n" + "".join(
        f"# write {spec.path}\nopen({spec.path!r}, 'wb').write(make_{i}())\n"
        for i, spec in enumerate(specs, 1)
    )
    outputs: list[dict[str, Any]] = [
        {"type": "logs", "logs": f"Wrote {len(specs)} file(s) to /mnt/data\n"}
    ]
    chart = next((s for s in specs if s.filename.endswith(".png")), None)
    if chart is not None and "code_interpreter_call.outputs" in include:
        url = f"{base_url}/containers/{container_id}/files/{chart.id}/content"
        outputs.append({"type": "image", "url": url})
    if specs:
        text.add(" Files:")
        for i, spec in enumerate(specs):
            text.add(" " if i == 0 else ", ")
            text.cite(
                spec.filename,
                {
                    "type": "container_file_citation",
                    "container_id": container_id,
                    "file_id": spec.id,
                    "filename": spec.filename,
                },
            )
        text.add(".")
    item = {
        "id": new_id("ci"),
        "type": "code_interpreter_call",
        "status": "completed",
        "container_id": container_id,
        "code": code,
        "outputs": outputs if "code_interpreter_call.outputs" in include else None,
    }
    return item, specs


def _small_file(content_type: str, seed: str) -> bytes:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    if content_type == "image/png":
        return render_image(seed, "png", "512x384")
    if content_type == "text/csv":
        rows = [f"{i},{int(digest[i * 2 : i * 2 + 2], 16)}" for i in range(16)]
        return ("index,value\n" + "\n".join(rows) + "\n").encode()
    if content_type == "application/json":
        return json.dumps({"seed": digest, "values": list(digest[:16])}, indent=2).encode()
    return f"Simulated summary {digest}\n".encode() * 8


def _file_search(
    tool: dict[str, Any],
    snippet: str,
    seed: str,
    include: set[str],
    text: _Text,
    found: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], list[FileSpec]]:
    """Results from the simulator's own vector stores (``found``), else synthetic documents."""
    if found is not None:
        limit = tool.get("max_num_results")
        hits = found[:limit] if isinstance(limit, int) and limit > 0 else found
        if hits:
            text.add(" The documents agree")
            cite = {"type": "file_citation", "file_id": hits[0]["file_id"]}
            text.cite(".", {**cite, "filename": hits[0]["filename"]}, True)
        else:
            text.add(" No document matched.")
        item = {
            "id": new_id("fs"),
            "type": "file_search_call",
            "status": "completed",
            "queries": [snippet],
            "results": hits if "file_search_call.results" in include else None,
        }
        return item, []
    store = (tool.get("vector_store_ids") or ["vs_default"])[0]
    specs = [
        FileSpec(
            f"file-{hashlib.sha256(f'{store}:{seed}:{n}'.encode()).hexdigest()[:22]}",
            f"document_{n}.txt",
            Blob.of(f"Document {n} about {snippet}.\n".encode() * 4, "text/plain"),
        )
        for n in (1, 2)
    ]
    results = [
        {
            "file_id": s.id,
            "filename": s.filename,
            "score": round(0.9 - 0.1 * i, 2),
            "text": f"Document {i + 1} about {snippet}.",
            "attributes": {},
        }
        for i, s in enumerate(specs)
    ]
    text.add(" The documents agree")
    text.cite(
        ".", {"type": "file_citation", "file_id": specs[0].id, "filename": specs[0].filename}, True
    )
    item = {
        "id": new_id("fs"),
        "type": "file_search_call",
        "status": "completed",
        "queries": [snippet],
        "results": results if "file_search_call.results" in include else None,
    }
    return item, specs


__all__ = ["MIME_TYPES", "FileSpec", "Generated", "generate", "input_text", "new_id"]

"""Vector stores (files, file batches, search), containers made through the API (and their
files), and conversations (and their items), as OpenAI serves them. With ``key_scoped`` each
object is seen only by the key that made it; another key gets the 404 of an unknown id.

A response may name them: ``file_search.vector_store_ids`` are searched for real (an id the
simulator never made keeps the old synthetic documents), a ``code_interpreter`` container id
runs in that container and adds its files to it (``{"type": "auto", "file_ids": …}`` copies the
uploads into the new one), and ``conversation`` gets the response's input and output items once
it has finished."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import render
from .blobs import Blob
from .config import SimulatorConfig
from .outputs import FileSpec, new_id, tokens
from .replies import (
    Query,
    Reply,
    bad_request,
    content_type,
    multipart,
    not_found,
    page,
    visible,
)
from .replies import caller as _caller
from .state import TERMINAL_STATUSES, Container, SimState

Route = tuple[str, "re.Pattern[str]", Callable[..., Reply]]
CHUNKING = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}
_CHUNK_CHARS = 800
_SEARCH_BYTES = 4 * 1024 * 1024  # only the head of a large file is searched
_WORD = re.compile(r"[a-z0-9]{3,}")


@dataclass
class StoreFile:
    file_id: str
    created: float
    attributes: dict[str, Any]
    batch_id: str | None = None


@dataclass
class VectorStore:
    id: str
    created: float
    name: str
    metadata: dict[str, Any]
    api_key: str | None
    expires_after: dict[str, Any] | None = None
    files: dict[str, StoreFile] = field(default_factory=dict)
    batches: dict[str, float] = field(default_factory=dict)  # id → created


@dataclass
class Conversation:
    id: str
    created: float
    metadata: dict[str, Any]
    api_key: str | None
    entries: list[tuple[str, Any]] = field(
        default_factory=list
    )  # ("items", [...]) | ("response", id)
    deleted: set[str] = field(default_factory=set)


def _json(body: bytes) -> dict[str, Any] | Reply:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return bad_request("The request body is not valid JSON.")
    return value if isinstance(value, dict) else bad_request("The request body must be an object.")


def _missing(name: str) -> Reply:
    return bad_request(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")


def _metadata(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


class Objects:
    """The handlers; ``Simulator`` adds ``routes()`` to its own."""

    def __init__(self, config: SimulatorConfig, state: SimState) -> None:
        self.config = config
        self.state = state

    def _mine(self, owner_key: str | None) -> bool:
        return visible(owner_key, self.config.key_scoped)

    def routes(self) -> list[Route]:
        vs, f, b = r"/v1/vector_stores/([^/]+)", r"/files/([^/]+)", r"/file_batches/([^/]+)"
        cn, cv = r"/v1/containers/([^/]+)", r"/v1/conversations/([^/]+)"
        table: list[tuple[str, str, Callable[..., Reply]]] = [
            ("POST", r"/v1/vector_stores", self.create_store),
            ("GET", r"/v1/vector_stores", self.list_stores),
            ("GET", vs, self.get_store),
            ("POST", vs, self.update_store),
            ("DELETE", vs, self.delete_store),
            ("POST", vs + "/search", self.search_store),
            ("POST", vs + "/files", self.add_store_file),
            ("GET", vs + "/files", self.list_store_files),
            ("GET", vs + f, self.get_store_file),
            ("POST", vs + f, self.update_store_file),
            ("DELETE", vs + f, self.delete_store_file),
            ("GET", vs + f + "/content", self.store_file_content),
            ("POST", vs + "/file_batches", self.create_batch),
            ("GET", vs + b, self.get_batch),
            ("POST", vs + b + "/cancel", self.get_batch),  # batches finish at once
            ("GET", vs + b + "/files", self.list_batch_files),
            ("POST", r"/v1/containers", self.create_container),
            ("GET", r"/v1/containers", self.list_containers),
            ("DELETE", cn, self.delete_container),
            ("POST", cn + "/files", self.add_container_file),
            ("DELETE", cn + f, self.delete_container_file),
            ("POST", r"/v1/conversations", self.create_conversation),
            ("GET", cv, self.get_conversation),
            ("POST", cv, self.update_conversation),
            ("DELETE", cv, self.delete_conversation),
            ("POST", cv + "/items", self.add_items),
            ("GET", cv + "/items", self.list_items),
            ("GET", cv + r"/items/([^/]+)", self.get_item),
            ("DELETE", cv + r"/items/([^/]+)", self.delete_item),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    # --- lookups --------------------------------------------------------------------------
    def upload(self, file_id: str) -> FileSpec | None:
        """An uploaded file this key may use."""
        with self.state.lock:
            spec, meta = self.state.files.get(file_id), self.state.uploads.get(file_id)
        if spec is None or meta is None or not self._mine(meta["api_key"]):
            return None
        return spec

    def store(self, store_id: str) -> VectorStore | None:
        with self.state.lock:
            store = self.state.vector_stores.get(store_id)
        return store if store is not None and self._mine(store.api_key) else None

    def container(self, container_id: str) -> Container | None:
        found = self.state.container(container_id, time.time())
        return found if found is not None and self._mine(found.api_key) else None

    def conversation(self, conversation_id: str) -> Conversation | None:
        with self.state.lock:
            conv = self.state.conversations.get(conversation_id)
        return conv if conv is not None and self._mine(conv.api_key) else None

    # --- vector stores --------------------------------------------------------------------
    def _store_view(self, store: VectorStore) -> dict[str, Any]:
        n = len(store.files)
        with self.state.lock:
            used = sum(s.blob.size for i in store.files if (s := self.state.files.get(i)))
        expires_at = None
        if store.expires_after:
            expires_at = int(store.created) + 86400 * int(store.expires_after.get("days", 0))
        view = {
            "id": store.id,
            "object": "vector_store",
            "created_at": int(store.created),
            "name": store.name,
            "usage_bytes": used,
            "file_counts": _counts(n),
            "status": "completed",
            "expires_at": expires_at,
            "last_active_at": int(store.created),
            "metadata": store.metadata,
        }
        if store.expires_after:
            view["expires_after"] = store.expires_after
        return view

    def _store_file_view(self, store: VectorStore, entry: StoreFile) -> dict[str, Any]:
        spec = self.state.file(entry.file_id)
        return {
            "id": entry.file_id,
            "object": "vector_store.file",
            "usage_bytes": spec.blob.size if spec else 0,
            "created_at": int(entry.created),
            "vector_store_id": store.id,
            "status": "completed",
            "last_error": None,
            "chunking_strategy": CHUNKING,
            "attributes": entry.attributes,
        }

    def _add_files(
        self, store: VectorStore, files: list[tuple[str, dict[str, Any]]], param: str,
        batch: str | None = None,
    ) -> Reply | None:  # fmt: skip
        for j, (file_id, _) in enumerate(files):
            if self.upload(file_id) is None:
                return not_found("file", file_id, f"{param}[{j}]")
        now = time.time()
        with self.state.lock:
            for file_id, attributes in files:
                store.files[file_id] = StoreFile(file_id, now, attributes, batch)
        return None

    def create_store(self, *, query: Query, body: bytes) -> Reply:
        self.state.count("vector_store_create")
        request = _json(body)
        if isinstance(request, Reply):
            return request
        store = VectorStore(
            new_id("vs"),
            time.time(),
            str(request.get("name") or ""),
            _metadata(request.get("metadata")) or {},
            _caller.get().key,
            _metadata(request.get("expires_after")),
        )
        ids = request.get("file_ids") or []
        problem = self._add_files(store, [(str(i), {}) for i in ids], "file_ids")
        if problem is not None:
            return problem
        with self.state.lock:
            self.state.vector_stores[store.id] = store
        return Reply(200, self._store_view(store))

    def list_stores(self, *, query: Query, body: bytes) -> Reply:
        self.state.count("vector_store_list")
        with self.state.lock:
            stores = list(self.state.vector_stores.values())
        data = [self._store_view(s) for s in stores if self._mine(s.api_key)]
        return page(data, query, default_order="desc")

    def get_store(self, store_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("vector_store_get")
        store = self.store(store_id)
        return Reply(200, self._store_view(store)) if store else not_found("vector store", store_id)

    def update_store(self, store_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("vector_store_update")
        store, request = self.store(store_id), _json(body)
        if store is None:
            return not_found("vector store", store_id)
        if isinstance(request, Reply):
            return request
        with self.state.lock:
            if isinstance(request.get("name"), str):
                store.name = request["name"]
            if "metadata" in request:
                store.metadata = _metadata(request["metadata"]) or {}
            if "expires_after" in request:
                store.expires_after = _metadata(request["expires_after"])
        return Reply(200, self._store_view(store))

    def delete_store(self, store_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("vector_store_delete")
        if self.store(store_id) is None:
            return not_found("vector store", store_id)
        with self.state.lock:
            self.state.vector_stores.pop(store_id, None)
        return Reply(200, {"id": store_id, "object": "vector_store.deleted", "deleted": True})

    def add_store_file(self, store_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("vector_store_file_create")
        store, request = self.store(store_id), _json(body)
        if store is None:
            return not_found("vector store", store_id)
        if isinstance(request, Reply):
            return request
        file_id = request.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            return _missing("file_id")
        if self.upload(file_id) is None:
            return not_found("file", file_id, "file_id")
        attributes = _metadata(request.get("attributes")) or {}
        self._add_files(store, [(file_id, attributes)], "file_id")
        return Reply(200, self._store_file_view(store, store.files[file_id]))

    def _store_file(self, store_id: str, file_id: str) -> tuple[VectorStore, StoreFile] | Reply:
        store = self.store(store_id)
        if store is None:
            return not_found("vector store", store_id)
        entry = store.files.get(file_id)
        return (store, entry) if entry else not_found("vector store file", file_id)

    def list_store_files(self, store_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("vector_store_file_list")
        store = self.store(store_id)
        if store is None:
            return not_found("vector store", store_id)
        data = [self._store_file_view(store, e) for e in list(store.files.values())]
        wanted = next(iter(query.get("filter") or []), None)
        return page([d for d in data if wanted in (None, d["status"])], query, default_order="desc")

    def get_store_file(self, store_id: str, file_id: str, *, query: Query, body: bytes) -> Reply:
        found = self._store_file(store_id, file_id)
        if isinstance(found, Reply):
            return found
        return Reply(200, self._store_file_view(*found))

    def update_store_file(self, store_id: str, file_id: str, *, query: Query, body: bytes) -> Reply:
        found, request = self._store_file(store_id, file_id), _json(body)
        if isinstance(found, Reply):
            return found
        if isinstance(request, Reply):
            return request
        found[1].attributes = _metadata(request.get("attributes")) or {}
        return Reply(200, self._store_file_view(*found))

    def delete_store_file(self, store_id: str, file_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("vector_store_file_delete")
        found = self._store_file(store_id, file_id)
        if isinstance(found, Reply):
            return found
        with self.state.lock:
            found[0].files.pop(file_id, None)
        return Reply(200, {"id": file_id, "object": "vector_store.file.deleted", "deleted": True})

    def store_file_content(
        self, store_id: str, file_id: str, *, query: Query, body: bytes
    ) -> Reply:
        found = self._store_file(store_id, file_id)
        if isinstance(found, Reply):
            return found
        chunks = [{"type": "text", "text": t} for t in _chunks(self._text(file_id))]
        return Reply(
            200,
            {
                "object": "vector_store.file_content.page",
                "data": chunks,
                "has_more": False,
                "next_page": None,
            },
        )

    def create_batch(self, store_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("vector_store_file_batch_create")
        store, request = self.store(store_id), _json(body)
        if store is None:
            return not_found("vector store", store_id)
        if isinstance(request, Reply):
            return request
        shared = _metadata(request.get("attributes")) or {}
        files: list[tuple[str, dict[str, Any]]] = [
            (str(i), shared) for i in request.get("file_ids") or []
        ]
        param = "file_ids"
        if not files:
            param = "files"
            for entry in request.get("files") or []:
                if isinstance(entry, dict):
                    attrs = _metadata(entry.get("attributes")) or shared
                    files.append((str(entry.get("file_id")), attrs))
        if not files:
            return _missing("file_ids")
        batch = new_id("vsfb")
        problem = self._add_files(store, files, param, batch)
        if problem is not None:
            return problem
        with self.state.lock:
            store.batches[batch] = time.time()
        return Reply(200, self._batch_view(store, batch))

    def _batch_view(self, store: VectorStore, batch: str) -> dict[str, Any]:
        n = sum(1 for e in store.files.values() if e.batch_id == batch)
        return {
            "id": batch,
            "object": "vector_store.files_batch",
            "created_at": int(store.batches[batch]),
            "vector_store_id": store.id,
            "status": "completed",
            "file_counts": _counts(n),
        }

    def get_batch(self, store_id: str, batch_id: str, *, query: Query, body: bytes) -> Reply:
        store = self.store(store_id)
        if store is None:
            return not_found("vector store", store_id)
        if batch_id not in store.batches:
            return not_found("vector store file batch", batch_id)
        return Reply(200, self._batch_view(store, batch_id))

    def list_batch_files(self, store_id: str, batch_id: str, *, query: Query, body: bytes) -> Reply:
        store = self.store(store_id)
        if store is None or batch_id not in store.batches:
            return not_found("vector store file batch", batch_id)
        entries = [e for e in list(store.files.values()) if e.batch_id == batch_id]
        data = [self._store_file_view(store, e) for e in entries]
        return page(data, query, default_order="desc")

    def _text(self, file_id: str) -> str:
        spec = self.state.file(file_id)
        if spec is None:
            return ""
        head = bytearray()
        for chunk in spec.blob.chunks():
            head += chunk
            if len(head) >= _SEARCH_BYTES:
                break
        return bytes(head[:_SEARCH_BYTES]).decode("utf-8", errors="replace")

    def _hits(
        self, stores: list[VectorStore], queries: list[str], limit: int, filters: Any
    ) -> list[dict[str, Any]]:
        terms = {w for q in queries for w in _WORD.findall(q.lower())}
        hits: list[dict[str, Any]] = []
        for store in stores:
            for entry in list(store.files.values()):
                spec = self.state.file(entry.file_id)
                if spec is None or not _matches(filters, entry.attributes):
                    continue
                for text in _chunks(self._text(entry.file_id)):
                    found = terms & set(_WORD.findall(text.lower()))
                    if not found:
                        continue
                    hits.append(
                        {
                            "file_id": entry.file_id,
                            "filename": spec.filename,
                            "score": round(len(found) / len(terms), 4),
                            "attributes": entry.attributes,
                            "content": [{"type": "text", "text": text}],
                        }
                    )
        hits.sort(key=lambda h: -float(h["score"]))
        return hits[:limit]

    def search_store(self, store_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("vector_store_search")
        store, request = self.store(store_id), _json(body)
        if store is None:
            return not_found("vector store", store_id)
        if isinstance(request, Reply):
            return request
        asked = request.get("query")
        queries = (
            [asked] if isinstance(asked, str) else [q for q in asked or [] if isinstance(q, str)]
        )
        if not queries:
            return _missing("query")
        limit = request.get("max_num_results", 10)
        if not isinstance(limit, int) or not 1 <= limit <= 50:
            return bad_request(
                "max_num_results must be between 1 and 50.", "max_num_results", "invalid_value"
            )
        data = self._hits([store], queries, limit, request.get("filters"))
        return Reply(
            200,
            {
                "object": "vector_store.search_results.page",
                "search_query": queries,
                "data": data,
                "has_more": False,
                "next_page": None,
            },
        )

    def tool_search(self, store_ids: list[str], query: str) -> list[dict[str, Any]] | None:
        """``file_search`` results over the stores the simulator made (None: none of them)."""
        with self.state.lock:
            stores = [self.state.vector_stores.get(i) for i in store_ids]
        known = [s for s in stores if s is not None]
        if not known:
            return None
        return [
            {
                "file_id": h["file_id"],
                "filename": h["filename"],
                "score": h["score"],
                "text": h["content"][0]["text"],
                "attributes": h["attributes"],
            }
            for h in self._hits(known, [query], 10, None)
        ]

    # --- containers -----------------------------------------------------------------------
    def _copy(self, spec: FileSpec, container_id: str) -> FileSpec:
        return FileSpec(new_id("cfile"), spec.filename, spec.blob, container_id, "user")

    def create_container(self, *, query: Query, body: bytes) -> Reply:
        self.state.count("container_create")
        request = _json(body)
        if isinstance(request, Reply):
            return request
        name = request.get("name")
        if not isinstance(name, str) or not name:
            return _missing("name")
        cid = new_id("cntr")
        files: list[FileSpec] = []
        for j, file_id in enumerate(request.get("file_ids") or []):
            spec = self.upload(str(file_id))
            if spec is None:
                return not_found("file", str(file_id), f"file_ids[{j}]")
            files.append(self._copy(spec, cid))
        expires = _metadata(request.get("expires_after")) or {}
        container = Container(
            cid,
            time.time(),
            "",
            files,
            _caller.get().key,
            name,
            int(expires.get("minutes") or 20),
            str(request.get("memory_limit") or "1g"),
        )
        with self.state.lock:
            self.state.containers[cid] = container
        return Reply(200, render.container_object(container))

    def list_containers(self, *, query: Query, body: bytes) -> Reply:
        self.state.count("container_list")
        with self.state.lock:
            ids = list(self.state.containers)
        data = [render.container_object(c) for i in ids if (c := self.container(i)) is not None]
        return page(data, query, default_order="desc")

    def delete_container(self, container_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("container_delete")
        if self.container(container_id) is None:
            return not_found("container", container_id)
        with self.state.lock:
            self.state.containers.pop(container_id, None)
        return Reply(200, {"id": container_id, "object": "container.deleted", "deleted": True})

    def add_container_file(self, container_id: str, *, query: Query, body: bytes) -> Reply:
        """Multipart ``file`` (an upload into the container) or JSON ``{"file_id": …}``."""
        self.state.count("container_file_create")
        container = self.container(container_id)
        if container is None:
            return not_found("container", container_id)
        fields = multipart(content_type.get(), body)
        if fields is not None:
            if "file" not in fields:
                return _missing("file")
            filename, data, ctype = fields["file"]
            spec = FileSpec(
                new_id("cfile"), filename or "upload", Blob.of(data, ctype), container_id, "user"
            )
        else:
            request = _json(body)
            if isinstance(request, Reply):
                return request
            file_id = request.get("file_id")
            if not isinstance(file_id, str) or not file_id:
                return _missing("file_id")
            source = self.upload(file_id)
            if source is None:
                return not_found("file", file_id, "file_id")
            spec = self._copy(source, container_id)
        with self.state.lock:
            container.files.append(spec)
        return Reply(200, render.container_file_object(spec, container))

    def delete_container_file(
        self, container_id: str, file_id: str, *, query: Query, body: bytes
    ) -> Reply:
        container = self.container(container_id)
        if container is None or not any(f.id == file_id for f in container.files):
            return not_found("container file", file_id)
        with self.state.lock:
            container.files[:] = [f for f in container.files if f.id != file_id]
        return Reply(200, {"id": file_id, "object": "container.file.deleted", "deleted": True})

    # --- conversations --------------------------------------------------------------------
    def _conversation_view(self, conv: Conversation) -> dict[str, Any]:
        return {
            "id": conv.id,
            "object": "conversation",
            "created_at": int(conv.created),
            "metadata": conv.metadata,
        }

    def items(self, conv: Conversation) -> list[dict[str, Any]]:
        """The conversation's items, oldest first: those added directly, and each finished
        response's input and output."""
        now, out = time.time(), []
        with self.state.lock:
            for kind, value in list(conv.entries):
                if kind == "items":
                    out.extend(value)
                    continue
                record = self.state.responses.get(value)
                if record is None or record.status_at(now) not in TERMINAL_STATUSES:
                    continue
                out.extend(record.input_items)
                if record.status_at(now) in ("completed", "incomplete"):
                    out.extend(record.generated.output)
        return [i for i in out if i.get("id") not in conv.deleted]

    def _new_items(self, raw: Any) -> list[dict[str, Any]] | Reply:
        if raw is None:
            return []
        if not isinstance(raw, list):
            return bad_request("items must be an array.", "items", "invalid_type")
        if len(raw) > 20:
            return bad_request("At most 20 items may be added at once.", "items", "invalid_value")
        return render.input_items({"input": raw})

    def create_conversation(self, *, query: Query, body: bytes) -> Reply:
        self.state.count("conversation_create")
        request = _json(body)
        if isinstance(request, Reply):
            return request
        items = self._new_items(request.get("items"))
        if isinstance(items, Reply):
            return items
        conv = Conversation(
            new_id("conv"), time.time(), _metadata(request.get("metadata")) or {}, _caller.get().key
        )
        if items:
            conv.entries.append(("items", items))
        with self.state.lock:
            self.state.conversations[conv.id] = conv
        return Reply(200, self._conversation_view(conv))

    def get_conversation(self, conversation_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("conversation_get")
        conv = self.conversation(conversation_id)
        if conv is None:
            return not_found("conversation", conversation_id)
        return Reply(200, self._conversation_view(conv))

    def update_conversation(self, conversation_id: str, *, query: Query, body: bytes) -> Reply:
        conv, request = self.conversation(conversation_id), _json(body)
        if conv is None:
            return not_found("conversation", conversation_id)
        if isinstance(request, Reply):
            return request
        if "metadata" not in request:
            return _missing("metadata")
        conv.metadata = _metadata(request["metadata"]) or {}
        return Reply(200, self._conversation_view(conv))

    def delete_conversation(self, conversation_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("conversation_delete")
        if self.conversation(conversation_id) is None:
            return not_found("conversation", conversation_id)
        with self.state.lock:
            self.state.conversations.pop(conversation_id, None)
        return Reply(
            200, {"id": conversation_id, "object": "conversation.deleted", "deleted": True}
        )

    def add_items(self, conversation_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("conversation_items_create")
        conv, request = self.conversation(conversation_id), _json(body)
        if conv is None:
            return not_found("conversation", conversation_id)
        if isinstance(request, Reply):
            return request
        if "items" not in request:
            return _missing("items")
        items = self._new_items(request["items"])
        if isinstance(items, Reply):
            return items
        with self.state.lock:
            conv.entries.append(("items", items))
        return Reply(200, _list(items))

    def list_items(self, conversation_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("conversation_items_list")
        conv = self.conversation(conversation_id)
        if conv is None:
            return not_found("conversation", conversation_id)
        return page(self.items(conv), query, default_order="desc")

    def get_item(self, conversation_id: str, item_id: str, *, query: Query, body: bytes) -> Reply:
        conv = self.conversation(conversation_id)
        if conv is None:
            return not_found("conversation", conversation_id)
        item = next((i for i in self.items(conv) if i.get("id") == item_id), None)
        return Reply(200, item) if item else not_found("item", item_id)

    def delete_item(
        self, conversation_id: str, item_id: str, *, query: Query, body: bytes
    ) -> Reply:
        conv = self.conversation(conversation_id)
        if conv is None:
            return not_found("conversation", conversation_id)
        if not any(i.get("id") == item_id for i in self.items(conv)):
            return not_found("item", item_id)
        conv.deleted.add(item_id)
        return Reply(200, self._conversation_view(conv))

    # --- responses that name these objects ------------------------------------------------
    def check_create(self, request: dict[str, Any]) -> Reply | None:
        """A create naming an object this key cannot see is refused as OpenAI would."""
        conv = request.get("conversation")
        conv_id = conv.get("id") if isinstance(conv, dict) else conv
        if conv_id is not None:
            if request.get("previous_response_id"):
                return bad_request(
                    "Mutually exclusive parameters: Ensure you are only providing one of: "
                    "'previous_response_id' or 'conversation'.",
                    "conversation",
                    "mutually_exclusive_parameters",
                )
            if not isinstance(conv_id, str) or self.conversation(conv_id) is None:
                return not_found("conversation", str(conv_id), "conversation")
        for i, tool in enumerate(request.get("tools") or []):
            if not isinstance(tool, dict):
                continue
            if tool.get("type") == "file_search":
                for j, store_id in enumerate(tool.get("vector_store_ids") or []):
                    sid = str(store_id)
                    if sid in self.state.vector_stores and self.store(sid) is None:
                        return not_found("vector store", sid, f"tools[{i}].vector_store_ids[{j}]")
            if tool.get("type") != "code_interpreter":
                continue
            container = tool.get("container")
            if isinstance(container, str) and self.container(container) is None:
                return not_found("container", container, f"tools[{i}].container")
            if isinstance(container, dict):
                for j, file_id in enumerate(container.get("file_ids") or []):
                    if self.upload(str(file_id)) is None:
                        param = f"tools[{i}].container.file_ids[{j}]"
                        return not_found("file", str(file_id), param)
        for param, file_id in _file_ids(request.get("input"), "input"):
            if file_id in self.state.uploads and self.upload(file_id) is None:
                return not_found("file", file_id, param)
        return None

    def prior_tokens(self, request: dict[str, Any]) -> int:
        """Context a conversation brings to a response (its earlier turns)."""
        conv = request.get("conversation")
        conv_id = conv.get("id") if isinstance(conv, dict) else conv
        found = self.conversation(conv_id) if isinstance(conv_id, str) else None
        if found is None:
            return 0
        return sum(tokens(json.dumps(i.get("content") or "")) for i in self.items(found))

    def after_create(self, record: Any) -> None:
        """Join the response to its conversation; put ``file_ids`` into new containers."""
        request = record.body
        conv = request.get("conversation")
        conv_id = conv.get("id") if isinstance(conv, dict) else conv
        found = self.conversation(conv_id) if isinstance(conv_id, str) else None
        if found is not None:
            with self.state.lock:
                found.entries.append(("response", record.id))
        tools = [
            t for t in request.get("tools") or [] if isinstance(t, dict)
            and t.get("type") == "code_interpreter"
        ]  # fmt: skip
        for tool, cid in zip(tools, record.generated.container_ids, strict=False):
            container = tool.get("container")
            if not isinstance(container, dict):
                continue
            made = self.state.container(cid, time.time())
            specs = [s for i in container.get("file_ids") or [] if (s := self.upload(str(i)))]
            if made is not None:
                with self.state.lock:
                    made.files[:0] = [self._copy(s, cid) for s in specs]


def _counts(n: int) -> dict[str, int]:
    return {"in_progress": 0, "completed": n, "failed": 0, "cancelled": 0, "total": n}


def _list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": False,
    }


def _chunks(text: str) -> Iterator[str]:
    for start in range(0, len(text), _CHUNK_CHARS):
        piece = text[start : start + _CHUNK_CHARS].strip()
        if piece:
            yield piece


def _file_ids(node: Any, at: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "file_id" and isinstance(value, str):
                yield f"{at}.{key}", value
            else:
                yield from _file_ids(value, f"{at}.{key}")
    elif isinstance(node, list):
        for j, item in enumerate(node):
            yield from _file_ids(item, f"{at}[{j}]")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and a > b,
    "gte": lambda a, b: a is not None and a >= b,
    "lt": lambda a, b: a is not None and a < b,
    "lte": lambda a, b: a is not None and a <= b,
    "in": lambda a, b: a in (b or []),
    "nin": lambda a, b: a not in (b or []),
}


def _matches(filters: Any, attributes: dict[str, Any]) -> bool:
    """OpenAI's attribute filters: a comparison, or ``and``/``or`` of filters."""
    if not isinstance(filters, dict):
        return True
    kind = filters.get("type")
    if kind in ("and", "or"):
        parts = [_matches(f, attributes) for f in filters.get("filters") or []]
        return all(parts) if kind == "and" else any(parts)
    compare = _COMPARE.get(str(kind))
    if compare is None:
        return True
    try:
        return compare(attributes.get(str(filters.get("key"))), filters.get("value"))
    except TypeError:
        return False

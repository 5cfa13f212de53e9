"""OpenAI's vector store, container and conversation objects as Longhaul's proxies return them
(the upstream's, passed through: unknown fields are kept)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from longhaul.schemas.common import UnixTime


class _Upstream(BaseModel):
    model_config = ConfigDict(extra="allow")  # whatever else the upstream says passes through


class FileCounts(BaseModel):
    in_progress: int
    completed: int
    failed: int
    cancelled: int
    total: int


class VectorStore(_Upstream):
    id: str
    object: str = "vector_store"
    created_at: UnixTime
    name: str | None = None
    usage_bytes: int
    file_counts: FileCounts
    status: str
    expires_at: UnixTime | None = None
    last_active_at: UnixTime | None = None
    metadata: dict[str, Any] | None = None


class VectorStoreFile(_Upstream):
    id: str
    object: str = "vector_store.file"
    created_at: UnixTime
    vector_store_id: str
    status: str
    usage_bytes: int
    last_error: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = None


class VectorStoreFileBatch(_Upstream):
    id: str
    object: str = "vector_store.files_batch"
    created_at: UnixTime
    vector_store_id: str
    status: str
    file_counts: FileCounts


class SearchResult(_Upstream):
    file_id: str
    filename: str
    score: float
    attributes: dict[str, Any] | None = None
    content: list[dict[str, Any]]


class VectorStoreSearchPage(_Upstream):
    object: str = "vector_store.search_results.page"
    search_query: list[str]
    data: list[SearchResult]
    has_more: bool
    next_page: str | None = None


class VectorStoreFileContent(_Upstream):
    object: str = "vector_store.file_content.page"
    data: list[dict[str, Any]]
    has_more: bool
    next_page: str | None = None


class Container(_Upstream):
    id: str
    object: str = "container"
    name: str
    created_at: UnixTime
    status: str
    last_active_at: UnixTime | None = None
    expires_after: dict[str, Any] | None = None
    memory_limit: str | None = None


class ContainerFile(_Upstream):
    id: str
    object: str = "container.file"
    container_id: str
    created_at: UnixTime
    bytes: int | None = None
    path: str
    source: str


class Conversation(_Upstream):
    id: str
    object: str = "conversation"
    created_at: UnixTime
    metadata: dict[str, Any] | None = None


class ConversationItem(_Upstream):
    """A message, a tool call or its output: the shapes of a Response's ``output`` items."""

    id: str
    type: str


class ItemList(_Upstream):
    object: str = "list"
    data: list[ConversationItem]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


class Deleted(_Upstream):
    id: str
    object: str
    deleted: bool

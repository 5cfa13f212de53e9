"""In-memory store of simulated responses, containers, files and call counters.

A response's status is a function of the clock: ``queued`` until ``queued_until``,
``in_progress`` until ``terminal_at``, then its scenario's terminal status (or ``cancelled``
from the moment it is cancelled). Nothing has to run for a status to advance; the scheduler
(see ``scheduler.py``) only exists to fire webhooks at the terminal time.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from .outputs import FileSpec, Generated
from .scenarios import Scenario

TERMINAL_STATUSES = ("completed", "failed", "cancelled", "incomplete")


@dataclass
class ResponseRecord:
    id: str
    body: dict[str, Any]
    scenario: Scenario
    created: float
    queued_until: float
    terminal_at: float
    final_status: str
    generated: Generated
    input_items: list[dict[str, Any]]
    job_key: str
    cancelled_at: float | None = None
    finalized: bool = False
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    stream_events: list[Any] | None = None  # built on first stream (streaming.py)
    streams_opened: int = 0
    api_key: str | None = None  # the creator's key (with key_scoped, only it sees the response)
    key_scoped: bool = False
    auth: dict[str, Any] = field(default_factory=dict)  # how the create authenticated

    @property
    def background(self) -> bool:
        return bool(self.body.get("background"))

    def status_at(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "cancelled"
        if now >= self.terminal_at:
            return self.final_status
        if now >= self.queued_until:
            return "in_progress"
        return "queued"

    def finished_at(self, now: float) -> float | None:
        """Unix time the response became terminal, or ``None`` while it is still running."""
        if self.cancelled_at is not None:
            return self.cancelled_at
        return self.terminal_at if now >= self.terminal_at else None

    def raw(self, now: float) -> dict[str, Any]:
        """The admin view served at ``/_sim/responses/{id}``."""
        return {
            "id": self.id,
            "status": self.status_at(now),
            "created_at": self.created,
            "queued_until": _finite(self.queued_until),
            "terminal_at": _finite(self.terminal_at),
            "finished_at": self.finished_at(now),
            "cancelled_at": self.cancelled_at,
            "final_status": self.final_status,
            "scenario": list(self.scenario.directives),
            "job_key": self.job_key,
            "container_ids": list(self.generated.container_ids),
            "file_ids": [f.id for f in self.generated.files],
            "webhooks": list(self.webhooks),
            "request": self.body,
            "auth": dict(self.auth),
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class Container:
    """Made by a code-interpreter call (``response_id``) or by ``POST /v1/containers``; a later
    response naming its id runs in it and adds its files."""

    id: str
    created: float
    response_id: str
    files: list[FileSpec]
    api_key: str | None = None  # the key that made it (with key_scoped, only it sees it)
    name: str = ""
    expires_minutes: int = 20
    memory_limit: str = "1g"


class SimState:
    """All simulator state behind one lock (requests are short, contention is negligible)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.responses: dict[str, ResponseRecord] = {}
            self.containers: dict[str, Container] = {}
            self.files: dict[str, FileSpec] = {}
            self.uploads: dict[str, dict[str, Any]] = {}  # purpose, api_key, created
            self.vector_stores: dict[str, Any] = {}  # objects.VectorStore
            self.conversations: dict[str, Any] = {}  # objects.Conversation
            self.counters: Counter[str] = Counter()
            self.per_response: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self.create_attempts: Counter[str] = Counter()
            self.poll_errors: Counter[str] = Counter()
            self.retrieved_at: defaultdict[str, list[float]] = defaultdict(list)

    # --- counters -----------------------------------------------------------------------
    def count(self, name: str, response_id: str | None = None) -> None:
        with self.lock:
            self.counters[name] += 1
            if response_id is not None:
                self.per_response[response_id][name] += 1

    def stamp_retrieve(self, response_id: str, at: float) -> None:
        with self.lock:
            self.retrieved_at[response_id].append(at)

    def timeline(self) -> dict[str, dict[str, Any]]:
        """Per response: created, terminal time and every retrieve's time (for benchmarks)."""
        with self.lock:
            return {
                rid: {
                    "created": r.created,
                    "terminal_at": _finite(r.terminal_at),
                    "retrieves": list(self.retrieved_at.get(rid, ())),
                }
                for rid, r in self.responses.items()
            }

    def next_create_attempt(self, key: str) -> int:
        with self.lock:
            self.create_attempts[key] += 1
            return self.create_attempts[key]

    def take_poll_error(self, record: ResponseRecord) -> bool:
        """True for the first ``poll500:N`` retrieves of ``record``."""
        with self.lock:
            if self.poll_errors[record.id] < record.scenario.poll500:
                self.poll_errors[record.id] += 1
                return True
            return False

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "counters": dict(self.counters),
                "responses": {rid: dict(c) for rid, c in self.per_response.items()},
                "create_attempts": dict(self.create_attempts),
                "live_responses": len(self.responses),
            }

    # --- responses ----------------------------------------------------------------------
    def add(self, record: ResponseRecord, now: float) -> None:
        with self.lock:
            self.responses[record.id] = record
            for cid in record.generated.container_ids:
                files = [f for f in record.generated.files if f.container_id == cid]
                if cid in self.containers:  # an existing container, shared across responses
                    self.containers[cid].files.extend(files)
                else:
                    self.containers[cid] = Container(cid, now, record.id, files, record.api_key)
            for spec in record.generated.files:
                if spec.container_id is None:
                    self.files[spec.id] = spec

    def get(self, response_id: str) -> ResponseRecord | None:
        with self.lock:
            return self.responses.get(response_id)

    def delete(self, response_id: str) -> bool:
        with self.lock:
            return self.responses.pop(response_id, None) is not None

    def cancel(self, record: ResponseRecord, now: float) -> bool:
        """Cancel if still running; returns True when this call changed the status."""
        with self.lock:
            if record.status_at(now) in TERMINAL_STATUSES:
                return False
            record.cancelled_at = now
            return True

    def finalize(self, response_id: str, now: float) -> ResponseRecord | None:
        """Mark a terminal response finalized once; returns it the first time only."""
        with self.lock:
            record = self.responses.get(response_id)
            if record is None or record.finalized:
                return None
            if record.status_at(now) not in TERMINAL_STATUSES:
                return None
            record.finalized = True
            return record

    # --- containers and files -----------------------------------------------------------
    def container(self, container_id: str, now: float) -> Container | None:
        """The container, or ``None`` if unknown or expired (scenario ``expired``)."""
        with self.lock:
            container = self.containers.get(container_id)
            if container is None:
                return None
            record = self.responses.get(container.response_id)
            if (
                record is not None
                and record.scenario.expired
                and record.status_at(now) in TERMINAL_STATUSES
            ):
                return None
            return container

    def upload(self, spec: FileSpec, *, purpose: str, api_key: str | None, now: float) -> None:
        with self.lock:
            self.files[spec.id] = spec
            self.uploads[spec.id] = {"purpose": purpose, "api_key": api_key, "created": now}

    def delete_file(self, file_id: str) -> bool:
        with self.lock:
            self.uploads.pop(file_id, None)
            return self.files.pop(file_id, None) is not None

    def file(self, file_id: str) -> FileSpec | None:
        with self.lock:
            return self.files.get(file_id)

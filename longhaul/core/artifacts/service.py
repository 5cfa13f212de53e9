"""Archive a finished job's files and describe them (the finalize step and the job views).

``archive_job_artifacts`` runs outside finalize's final transaction: it checkpoints (commits,
through finalize's driver) one artifact at a time, so a crash keeps what was already stored and
a re-run resumes where it stopped. Rows are
unique per (job, source) and ids and storage keys are derived from that pair, so a re-run never
creates a second row or object; rows already in a final state are not fetched again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import openai
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core import failures
from longhaul.core.artifacts import fetch
from longhaul.core.artifacts.filenames import key_segment
from longhaul.core.artifacts.sources import (
    ArtifactSource,
    code_interpreter_containers,
    container_file_sources,
    find_sources,
    merge,
)
from longhaul.core.config import Settings, get_settings
from longhaul.core.errors import NotFound
from longhaul.core.models import Job, utcnow
from longhaul.core.models.artifacts import FINAL_STATUSES, Artifact
from longhaul.core.storage import ObjectTooLarge, Storage, StorageError, get_storage

log = logging.getLogger(__name__)
MAX_LISTED_FILES = 1000


@dataclass
class ArchiveResult:
    counts: dict[str, int] = field(default_factory=dict)
    unlisted_containers: dict[str, str] = field(default_factory=dict)


def artifact_id(job_id: str, source_key: str) -> str:
    return "art_" + hashlib.sha256(f"{job_id}\n{source_key}".encode()).hexdigest()[:24]


def storage_key(job: Job, art_id: str, filename: str) -> str:
    return f"tenant/{job.tenant_id}/job/{job.id}/{art_id}-{key_segment(filename)}"


def archive_job_artifacts(
    session: Session,
    job: Job,
    response: dict[str, Any],
    *,
    upstream: openai.OpenAI,
    storage: Storage | None = None,
    settings: Settings | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> ArchiveResult:
    """Fetch every file the response produced into storage; record one row per source."""
    settings = settings or get_settings()
    storage = storage or get_storage()
    client = upstream.with_options(max_retries=0)  # retries are ours, bounded, per source
    result = ArchiveResult()
    sources = find_sources(response)
    for container_id, index, item_id in code_interpreter_containers(response):
        try:
            listed = fetch.with_retries(partial(_list_container, client, container_id))
        except Exception as exc:  # the cited files are still tried, one by one
            result.unlisted_containers[container_id] = _reason(exc)
            log.warning("job %s: cannot list container %s: %s", job.id, container_id, exc)
            continue
        more = container_file_sources(container_id, listed, output_index=index, item_id=item_id)
        sources = merge(sources, more)
    if not sources:
        return result

    commit = checkpoint or session.commit  # finalize's driver commits each file as it lands
    rows = _ensure_rows(session, job, sources)
    commit()
    stored_total = _stored_bytes(session, job.id)
    for source in sources:
        row = rows[source.key]
        if row.status not in FINAL_STATUSES:
            stored_total += _archive_one(
                session,
                row,
                source,
                client,
                storage,
                settings,
                stored_total,
                result.unlisted_containers.get(source.container_id or ""),
            )
            commit()
        result.counts[row.status] = result.counts.get(row.status, 0) + 1
    log.info("job %s: artifacts %s", job.id, result.counts)
    return result


def _archive_one(
    session: Session,
    row: Artifact,
    source: ArtifactSource,
    client: openai.OpenAI,
    storage: Storage,
    settings: Settings,
    stored_total: int,
    container_problem: str | None,
) -> int:
    """Store one source; returns the bytes added. Every outcome is written to the row."""
    row.attempts += 1
    per_job_left = settings.job_artifacts_max_bytes - stored_total
    cap = min(settings.artifact_max_bytes, per_job_left)
    cap_reason = (
        f"exceeds the per-artifact limit of {settings.artifact_max_bytes} bytes"
        if cap == settings.artifact_max_bytes
        else f"would exceed the per-job limit of {settings.job_artifacts_max_bytes} bytes"
    )
    if cap <= 0 or (source.size_hint is not None and source.size_hint > cap):
        _finish(row, "too_large", f"File {cap_reason} (upstream size {source.size_hint}).")
        return 0

    def attempt() -> Any:
        with fetch.open_source(source, client) as chunks:
            return storage.put(
                row.storage_key, chunks, content_type=source.content_type, max_bytes=cap
            )

    try:
        stored = fetch.with_retries(attempt)
    except ObjectTooLarge:
        _finish(row, "too_large", f"File {cap_reason}; the download was stopped.")
        return 0
    except StorageError as exc:
        _finish(row, "failed", f"Storage error: {exc}")
        return 0
    except Exception as exc:
        outcome = failures.classify(exc).kind
        reason = _reason(exc)
        if outcome == "missing":
            where = f"container {source.container_id}" if source.container_id else "the upstream"
            detail = (
                f"; listing the container failed: {container_problem}" if container_problem else ""
            )
            _finish(row, "missing", f"No longer available from {where} ({reason}){detail}.")
        else:
            _finish(row, "failed", f"Could not fetch ({outcome}): {reason}")
        return 0
    now = utcnow()
    row.size, row.sha256, row.content_type = stored.size, stored.sha256, stored.content_type
    row.stored_at = now
    row.expires_at = _expiry(now, settings)
    _finish(row, "stored", None)
    return stored.size


def _finish(row: Artifact, status: str, error: str | None) -> None:
    row.status, row.error = status, error
    if status != "stored":
        log.warning("artifact %s (%s): %s: %s", row.id, row.source_key, status, error)


def _ensure_rows(session: Session, job: Job, sources: list[ArtifactSource]) -> dict[str, Artifact]:
    now = utcnow()
    values = []
    for source in sources:
        art_id = artifact_id(job.id, source.key)
        values.append(
            {
                "id": art_id,
                "job_id": job.id,
                "tenant_id": job.tenant_id,
                "kind": source.kind,
                "source_key": source.key,
                "source": source.details(),
                "output_index": source.output_index,
                "item_id": source.item_id,
                "filename": source.filename,
                "content_type": source.content_type,
                "storage_key": storage_key(job, art_id, source.filename),
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    session.execute(
        insert(Artifact)
        .values(values)
        .on_conflict_do_nothing(index_elements=["job_id", "source_key"])
    )
    keys = [s.key for s in sources]
    found = session.scalars(
        select(Artifact)
        .where(Artifact.job_id == job.id, Artifact.source_key.in_(keys))
        .execution_options(populate_existing=True)
    ).all()
    return {row.source_key: row for row in found}


def _stored_bytes(session: Session, job_id: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Artifact.size), 0)).where(
            Artifact.job_id == job_id, Artifact.status == "stored"
        )
    )
    return int(total or 0)


def _list_container(client: openai.OpenAI, container_id: str) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = []
    for listed in client.containers.files.list(container_id, limit=100):
        files.append(listed.model_dump())
        if len(files) >= MAX_LISTED_FILES:
            break
    return files


def _expiry(now: datetime, settings: Settings) -> datetime | None:
    days = settings.artifact_ttl_days
    return now + timedelta(days=days) if days else None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


# --- views -------------------------------------------------------------------------------


def list_artifacts(session: Session, job_id: str) -> list[Artifact]:
    return list(
        session.scalars(
            select(Artifact)
            .where(Artifact.job_id == job_id)
            .order_by(Artifact.output_index.asc().nulls_last(), Artifact.created_at, Artifact.id)
        )
    )


def artifact_summaries(session: Session, job: Job, base_url: str | None) -> list[dict[str, Any]]:
    """The ``artifacts`` list of job views and webhook payloads."""
    return [artifact_summary(a, base_url) for a in list_artifacts(session, job.id)]


def artifact_summaries_by_job(
    session: Session, job_ids: list[str], base_url: str | None
) -> dict[str, list[dict[str, Any]]]:
    """``artifact_summaries`` for many jobs in one query (a page of ``GET /v1/jobs``)."""
    found: dict[str, list[dict[str, Any]]] = {job_id: [] for job_id in job_ids}
    if not job_ids:
        return found
    rows = session.scalars(
        select(Artifact)
        .where(Artifact.job_id.in_(job_ids))
        .order_by(Artifact.output_index.asc().nulls_last(), Artifact.created_at, Artifact.id)
    )
    for a in rows:
        found[a.job_id].append(artifact_summary(a, base_url))
    return found


def artifact_summary(a: Artifact, base_url: str | None) -> dict[str, Any]:
    base = (base_url or "").rstrip("/")
    return {
        "id": a.id,
        "object": "longhaul.artifact",
        "kind": a.kind,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "status": a.status,
        "error": a.error,
        "source": {**a.source, "key": a.source_key},
        "output_index": a.output_index,
        "item_id": a.item_id,
        "created_at": int(a.created_at.timestamp()),
        "expires_at": int(a.expires_at.timestamp()) if a.expires_at else None,
        "download_url": f"{base}/v1/jobs/{a.job_id}/artifacts/{a.id}"
        if a.status == "stored"
        else None,
    }


def get_artifact(session: Session, *, tenant_id: str, job_id: str, artifact_id: str) -> Artifact:
    """The artifact if it belongs to this tenant's job; otherwise NotFound (never 403)."""
    artifact = session.scalar(
        select(Artifact).where(
            Artifact.id == artifact_id, Artifact.job_id == job_id, Artifact.tenant_id == tenant_id
        )
    )
    if artifact is None:
        raise NotFound(f"No artifact {artifact_id!r} for job {job_id!r}.", param="artifact_id")
    return artifact


def delete_job_artifacts(session: Session, job: Job, storage: Storage | None = None) -> int:
    """Delete the job's stored objects and its artifact rows (flush only). Returns rows removed."""
    storage = storage or get_storage()
    rows = list_artifacts(session, job.id)
    for row in rows:
        storage.delete(row.storage_key)  # idempotent; also covers half-finished attempts
        session.delete(row)
    session.flush()
    return len(rows)

"""Retention: delete objects whose ``expires_at`` has passed and mark their rows ``expired``.

Called by the periodic task ``longhaul.maintenance.cleanup_artifacts`` inside a session scope.
Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so two cleaners never fight over a batch; the
object is deleted before the row is marked, and deleting is idempotent, so a crash between the
two only means the next run deletes (nothing) again and marks the row.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.models.artifacts import Artifact
from longhaul.core.storage import Storage

log = logging.getLogger(__name__)
BATCH_SIZE = 500


def cleanup_expired(
    session: Session, storage: Storage, now: datetime, *, batch_size: int = BATCH_SIZE
) -> int:
    """Expire up to ``batch_size`` stored artifacts due at ``now``; returns the count (flush)."""
    due = session.scalars(
        select(Artifact)
        .where(Artifact.status == "stored", Artifact.expires_at <= now)
        .order_by(Artifact.expires_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    expired = 0
    for artifact in due:
        try:
            storage.delete(artifact.storage_key)
        except Exception:  # keep the row 'stored'; the next run tries again
            log.exception("artifact %s: deleting %s failed", artifact.id, artifact.storage_key)
            continue
        artifact.status = "expired"
        artifact.error = f"Deleted after its retention period ended at {artifact.expires_at}."
        expired += 1
    session.flush()
    if expired:
        log.info("expired %d artifact(s)", expired)
    return expired

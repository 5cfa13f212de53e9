"""Periodic tasks (beat). Each is safe to run twice at once (SKIP LOCKED claims and leases)."""

from __future__ import annotations

import logging

from longhaul.core.config import get_settings
from longhaul.core.db import session_scope
from longhaul.core.jobs.sweep import claim_due
from longhaul.core.jobs.sweep import reconcile as reconcile_jobs
from longhaul.worker.app import app
from longhaul.worker.dispatch import send_followups

log = logging.getLogger(__name__)


@app.task(name="longhaul.maintenance.sweep")
def sweep() -> int:
    """Claim due jobs and send one short task each."""
    s = get_settings()
    with session_scope() as session:
        claimed = claim_due(session, lease_seconds=s.lease_seconds, limit=s.sweep_batch_size)
    for step, job_id, token in claimed:
        send_followups([step], job_id, token)
    return len(claimed)


@app.task(name="longhaul.maintenance.reconcile")
def reconcile() -> int:
    s = get_settings()
    with session_scope() as session:
        repaired = reconcile_jobs(session, lease_seconds=s.lease_seconds)
    if repaired:
        log.warning("reconcile repaired %d job(s)", repaired)
    return repaired


@app.task(name="longhaul.maintenance.cleanup_artifacts")
def cleanup_artifacts() -> int:
    """Retention: delete artifacts past ``LONGHAUL_ARTIFACT_TTL_DAYS`` and mark them expired."""
    from longhaul.core.artifacts.cleanup import cleanup_expired
    from longhaul.core.models import utcnow
    from longhaul.core.storage.factory import get_storage

    with session_scope() as session:
        return cleanup_expired(session, get_storage(), utcnow())

"""Periodic tasks (beat). Each is safe to run twice at once (SKIP LOCKED claims and leases)."""

from __future__ import annotations

import logging

from longhaul.core.config import get_settings
from longhaul.core.db import session_scope
from longhaul.core.jobs.orphans import settle_orphans
from longhaul.core.jobs.sweep import Admission, claim_due
from longhaul.core.jobs.sweep import reconcile as reconcile_jobs
from longhaul.worker.app import app
from longhaul.worker.dispatch import queue_states

log = logging.getLogger(__name__)


# Housekeeping ticks send no task events: at one a second they would be most of Flower's
# history and of the worker's event traffic, and say nothing about any job.
@app.task(name="longhaul.maintenance.sweep", send_events=False)
def sweep() -> int:
    """Reserve due jobs the queues have room for; their messages (one per batch of submits,
    polls or finalizes; one per cancel) leave after the commit."""
    s = get_settings()
    admission = Admission(
        queue_states(),
        s.dispatch_queue_target,
        batched_queue={
            "submit": s.submit_queue_batches,
            "poll": s.poll_queue_batches,
            "finalize": s.finalize_queue_batches,
        },
        batch={
            "submit": s.submit_batch_size,
            "poll": s.poll_batch_size,
            "finalize": s.finalize_batch_size,
        },
    )
    with session_scope() as session:
        claimed = claim_due(
            session, lease_seconds=s.lease_seconds, limit=s.sweep_batch_size, admission=admission
        )
    return len(claimed)


@app.task(name="longhaul.maintenance.reconcile", send_events=False)
def reconcile() -> int:
    s = get_settings()
    with session_scope() as session:
        repaired = reconcile_jobs(session, lease_seconds=s.lease_seconds)
    if repaired:
        log.warning("reconcile repaired %d job(s)", repaired)
    settle_orphans(session_scope, s)  # duplicates inbound webhooks named: cancelled, priced
    return repaired


@app.task(name="longhaul.maintenance.cleanup_artifacts")
def cleanup_artifacts() -> int:
    """Retention: delete artifacts past ``LONGHAUL_ARTIFACT_TTL_DAYS`` and mark them expired."""
    from longhaul.core.artifacts.cleanup import cleanup_expired
    from longhaul.core.models import utcnow
    from longhaul.core.storage.factory import get_storage

    with session_scope() as session:
        return cleanup_expired(session, get_storage(), utcnow())

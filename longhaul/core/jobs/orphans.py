"""Orphaned upstream responses: a response tagged with a job's id (``metadata.longhaul_job_id``,
which every create carries) that is not the job's own. A create that may have been sent twice (a
read timeout, a connection cut after the request, a worker killed mid-create) can leave one
running upstream, unseen: the job goes on with the response of its retried create.

OpenAI lists no responses, so an orphan is found when the upstream speaks of it: an inbound
webhook naming a response no job holds (``webhooks/inbound.py`` keeps it, ``job_id`` NULL).
``settle_orphans`` (run by the reconcile tick) retrieves each such response and, when its
metadata names a job whose own response is another, cancels it upstream if it still runs and
prices its usage onto the job's ledger as duplicate lines (``kind = "duplicate"``, item
``duplicate:<response id>:<item>``, the response id in ``details.duplicate_of``), so the job view
and the usage show what the duplicate cost. The job is flagged ``possibly_duplicated``.

A response whose job has no upstream id yet (its retried create is still to come) is looked at
again on a later tick; one that names no job of ours is marked and left alone.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from longhaul.core import failures, upstream
from longhaul.core.config import Settings
from longhaul.core.costs.ledger import DUPLICATE_KIND, insert_lines, line_row, price_for_job
from longhaul.core.jobs.lifecycle import TERMINAL
from longhaul.core.models import Job, utcnow
from longhaul.core.models.webhooks import InboundWebhook
from longhaul.core.upstreams.clients import client_for_job, get_client

log = logging.getLogger(__name__)

DUPLICATE_PREFIX = "duplicate:"
_MARK = "orphan"  # key in webhook_inbound.data: "settled" | "not_ours" | "own"
UPSTREAM_TERMINAL = frozenset({"completed", "failed", "cancelled", "incomplete"})


def candidates(session: Session, limit: int = 50) -> list[str]:
    """Response ids inbound webhooks named that no job holds and nobody settled yet."""
    rows = session.execute(
        select(InboundWebhook.response_id)
        .where(
            InboundWebhook.job_id.is_(None),
            InboundWebhook.response_id.is_not(None),
            InboundWebhook.data[_MARK].astext.is_(None),
        )
        .order_by(InboundWebhook.received_at)
        .limit(limit)
    ).scalars()
    return list(dict.fromkeys(r for r in rows if r))


def settle_orphans(session_factory: Any, settings: Settings, limit: int = 50) -> int:
    """Settle what inbound webhooks found. ``session_factory()`` gives a session whose scope
    commits (``db.session_scope``); no transaction is held over an upstream call. Returns the
    number of orphans settled."""
    with session_factory() as session:
        found = candidates(session, limit)
    settled = 0
    for response_id in found:
        try:
            settled += _settle_one(session_factory, response_id, settings)
        except Exception:  # one bad response must not stop the others; tried again next tick
            log.exception("orphan check of upstream response %s failed", response_id)
    return settled


def _settle_one(session_factory: Any, response_id: str, settings: Settings) -> int:
    try:
        body = upstream.retrieve(get_client(), response_id).body
    except Exception as exc:
        if failures.classify(exc).kind != "missing":
            raise
        with session_factory() as session:  # not on our upstream (or forgotten): nothing to do
            _mark(session, response_id, "not_ours")
        return 0
    job_id = (body.get("metadata") or {}).get("longhaul_job_id")
    with session_factory() as session:
        job = session.get(Job, job_id) if job_id else None
        if job is None:
            _mark(session, response_id, "not_ours")
            return 0
        if job.upstream_response_id == response_id:
            _mark(session, response_id, "own", job_id=job.id)
            return 0
        if job.upstream_response_id is None and job.status not in TERMINAL:
            return 0  # its retried create is still to come: decide on a later tick
        client = client_for_job(session, job.id, settings=settings)
    if body.get("status") not in UPSTREAM_TERMINAL:
        try:
            body = upstream.cancel(client, response_id).body
        except Exception:
            log.warning("could not cancel orphan %s of job %s", response_id, job_id, exc_info=True)
    with session_factory() as session:
        job = session.get_one(Job, job_id)
        record_duplicate(session, job, response_id, body)
        _mark(session, response_id, "settled", job_id=job.id)
    log.warning(
        "job %s: upstream response %s was a duplicate (%s); cancelled and priced on its ledger",
        job_id, response_id, body.get("status"),
    )  # fmt: skip
    return 1


def record_duplicate(session: Session, job: Job, response_id: str, body: dict[str, Any]) -> int:
    """The duplicate's usage as ledger lines of ``job`` (once per response: a unique item) and
    the job flagged. Flush only; returns the lines inserted."""
    priced = price_for_job(job, body)
    now = utcnow()
    rows = [
        line_row(
            job,
            priced,
            line,
            item=f"{DUPLICATE_PREFIX}{response_id}:{line.item}"[:200],
            kind=DUPLICATE_KIND,
            created_at=now,
            details={
                **line.details,
                "duplicate_of": response_id,
                "kind": line.kind,
                "upstream_status": body.get("status"),
            },
        )
        for line in priced.lines
    ]
    inserted = insert_lines(session, rows)
    session.execute(update(Job).where(Job.id == job.id).values(possibly_duplicated=True))
    session.flush()
    return inserted


def _mark(session: Session, response_id: str, outcome: str, job_id: str | None = None) -> None:
    values: dict[str, Any] = {"data": {"id": response_id, _MARK: outcome}}
    if job_id:
        values["job_id"] = job_id
    session.execute(
        update(InboundWebhook)
        .where(InboundWebhook.response_id == response_id, InboundWebhook.job_id.is_(None))
        .values(**values)
    )
    session.flush()

"""Job tasks: thin adapters that open a session scope and call one ``core.jobs`` step. Each takes
a job id (and the sweep's lease token) and may safely run twice. The step's driver commits; the
messages it queued (the next step, webhook deliveries) leave after those commits."""

from __future__ import annotations

from longhaul.core.config import get_settings
from longhaul.core.db import session_scope
from longhaul.core.jobs.cancel import cancel_job
from longhaul.core.jobs.finalize import finalize_job, finalize_jobs
from longhaul.core.jobs.poll import poll_jobs
from longhaul.core.jobs.submit import submit_jobs
from longhaul.core.upstreams.clients import client_for_job
from longhaul.worker.app import app


@app.task(name="longhaul.jobs.submit")
def submit(job_id: str, token: str | None = None) -> None:
    """One job (a message sent before submits were batched)."""
    _submit([job_id], token)


@app.task(name="longhaul.jobs.submit_batch")
def submit_batch(job_ids: list[str], token: str | None = None) -> None:
    """The queued jobs one sweep reserved under ``token``, created concurrently."""
    _submit(job_ids, token)


def _submit(job_ids: list[str], token: str | None) -> None:
    with session_scope() as session:
        submit_jobs(session, job_ids, settings=get_settings(), token=token)


@app.task(name="longhaul.jobs.poll")
def poll(job_id: str, token: str | None = None) -> None:
    """One job now (an inbound webhook's wake-up); a no-op if a batch already holds it."""
    _poll([job_id], token)


@app.task(name="longhaul.jobs.poll_batch")
def poll_batch(job_ids: list[str], token: str | None = None) -> None:
    """The due jobs one sweep reserved under ``token``, retrieved concurrently."""
    _poll(job_ids, token)


def _poll(job_ids: list[str], token: str | None) -> None:
    with session_scope() as session:
        poll_jobs(session, job_ids, settings=get_settings(), token=token)


@app.task(name="longhaul.jobs.cancel")
def cancel(job_id: str, token: str | None = None) -> None:
    settings = get_settings()
    with session_scope() as session:
        client = client_for_job(session, job_id, settings=settings)
        cancel_job(session, job_id, client=client, settings=settings, token=token)


# Archiving a large file may take minutes (the lease is renewed meanwhile); still well under
# the visibility timeout, so an acks_late message is never redelivered while it runs.
@app.task(name="longhaul.jobs.finalize", time_limit=3000, soft_time_limit=2940)
def finalize(job_id: str, token: str | None = None) -> None:
    settings = get_settings()
    with session_scope() as session:
        client = client_for_job(session, job_id, settings=settings)
        finalize_job(session, job_id, client=client, settings=settings, token=token)


@app.task(name="longhaul.jobs.finalize_batch")
def finalize_batch(job_ids: list[str], token: str | None = None) -> None:
    """Jobs handed to finalize together, or reserved by one sweep under ``token``: those without
    files end in one transaction; each with files is sent on as a ``finalize`` of its own."""
    with session_scope() as session:
        finalize_jobs(session, job_ids, settings=get_settings(), token=token)

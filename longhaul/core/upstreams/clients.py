"""The upstream of a job: its stored configuration, decrypted once per (id, revision) per
process, and the cached SDK client for it (``core.upstream.get_client``)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import openai
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.config import Settings
from longhaul.core.errors import NotFound
from longhaul.core.models import Job, Upstream
from longhaul.core.upstream import get_client
from longhaul.core.upstreams.service import spec_of
from longhaul.core.upstreams.spec import UpstreamSpec, default_spec

_specs: dict[tuple[str, int], UpstreamSpec] = {}
_lock = threading.Lock()


def specs_for(
    session: Session, upstream_ids: Iterable[str | None], *, settings: Settings
) -> dict[str | None, UpstreamSpec]:
    """Each id's configuration (``None``: the environment's); an id no longer stored is left
    out. One query for the revisions; a row is read and decrypted only when its revision is new."""
    wanted = {u for u in upstream_ids if u is not None}
    out: dict[str | None, UpstreamSpec] = {None: default_spec(settings)}
    if not wanted:
        return out
    revisions = dict(
        session.execute(select(Upstream.id, Upstream.revision).where(Upstream.id.in_(wanted))).all()
    )
    for uid, rev in revisions.items():
        with _lock:
            spec = _specs.get((uid, rev))
        if spec is None:
            row = session.get(Upstream, uid)
            if row is None:
                continue
            spec = spec_of(row, settings=settings)
            with _lock:
                for old in [k for k in _specs if k[0] == uid]:
                    del _specs[old]
                _specs[(uid, rev)] = spec
        out[uid] = spec
    return out


def spec_for(session: Session, upstream_id: str | None, *, settings: Settings) -> UpstreamSpec:
    spec = specs_for(session, [upstream_id], settings=settings).get(upstream_id)
    if spec is None:
        raise NotFound(f"The job's upstream {upstream_id!r} no longer exists.", param="upstream")
    return spec


def spec_for_job(session: Session, job_id: str, *, settings: Settings) -> UpstreamSpec:
    """The upstream the job runs on (the environment's for an unknown job: the step itself then
    finds nothing to do)."""
    upstream_id = session.execute(
        select(Job.upstream_id).where(Job.id == job_id)
    ).scalar_one_or_none()
    return spec_for(session, upstream_id, settings=settings)


def client_for_job(session: Session, job_id: str, *, settings: Settings) -> openai.OpenAI:
    return get_client(spec_for_job(session, job_id, settings=settings))

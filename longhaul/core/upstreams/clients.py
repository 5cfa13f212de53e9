"""The upstream of a job: its stored configuration, decrypted once per (id, revision) per
process, and the cached SDK client for it (``core.upstream.get_client``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import openai
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.config import Settings
from longhaul.core.errors import NotFound, Transient
from longhaul.core.models import Job, Upstream
from longhaul.core.upstream import get_client
from longhaul.core.upstreams.secrets import SecretsUnavailable
from longhaul.core.upstreams.service import spec_of
from longhaul.core.upstreams.spec import UpstreamSpec, default_spec

log = logging.getLogger(__name__)
UNUSABLE_RETRY_SECONDS = 60  # a job on an upstream whose secret can't be read tries again then

_specs: dict[tuple[str, int], UpstreamSpec] = {}
_lock = threading.Lock()


def specs_for(
    session: Session,
    upstream_ids: Iterable[str | None],
    *,
    settings: Settings,
    unusable: dict[str, Transient] | None = None,
) -> dict[str | None, UpstreamSpec]:
    """Each id's configuration (``None``: the environment's); an id no longer stored is left
    out. One query for the revisions; a row is read and decrypted only when its revision is new.
    A secret that cannot be decrypted (``LONGHAUL_SECRET_KEYS`` lost its key) raises, unless
    ``unusable`` is given: then that upstream is left out and its failure, a transient one,
    is put there (a batch's other upstreams go on)."""
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
            try:
                spec = spec_of(row, settings=settings)
            except SecretsUnavailable as exc:
                if unusable is None:
                    raise
                log.error("upstream %s (%s) is unusable: %s", row.name, uid, exc.message)
                unusable[uid] = Transient(
                    f"The job's upstream {row.name!r} cannot be used: {exc.message}",
                    retry_after=UNUSABLE_RETRY_SECONDS,
                    code="upstream_secret_unavailable",
                )
                continue
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

"""Which jobs stream: `stream: true` ones, and every job of a tenant whose own `stream_all` is
on (`LONGHAUL_STREAM_ALL` for tenants without one)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.config import Settings
from longhaul.core.models import utcnow
from longhaul.core.models.streams import JobStream
from longhaul.core.streams import jobs as stream_jobs
from longhaul.core.streams import policy
from tests.support.factories import add_job

PLAIN = {"model": "gpt-5.5", "input": "x"}


@pytest.mark.parametrize(
    ("own", "environment", "streams"),
    [
        (None, False, False),
        (None, True, True),
        (True, False, True),
        (False, True, False),
    ],
)
def test_a_tenant_setting_overrides_the_environment(
    session: Session, tenant: Any, own: bool | None, environment: bool, streams: bool
) -> None:
    settings = Settings(stream_all=environment, relay_grace_seconds=60)
    policy.set_tenant_stream_all(session, tenant.name, own)
    plain = add_job(session, tenant.id, request_body=PLAIN, next_poll_at=utcnow())
    asked = add_job(session, tenant.id, request_body={**PLAIN, "stream": True})
    session.commit()
    assert policy.wants_stream(session, plain, settings) is streams
    assert policy.wants_stream(session, asked, settings)  # `stream: true` always streams
    # The relay creates (submit leaves to it) and discovers exactly those jobs.
    assert (plain.id in policy.relay_owned(session, [plain.id], settings, None)) is streams
    stream_jobs.discover(session, settings, limit=10_000)
    session.commit()
    opened = set(
        session.execute(
            select(JobStream.job_id).where(JobStream.job_id.in_([plain.id, asked.id]))
        ).scalars()
    )
    assert opened == ({plain.id, asked.id} if streams else {asked.id})

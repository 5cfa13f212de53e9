"""A Job row factory for the cost tests (real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from longhaul.core.models import Job, Tenant
from tests.support.factories import add_job


@pytest.fixture
def make_job(session: Session, tenant: Tenant) -> Callable[..., Job]:
    def make(
        *,
        model: str = "gpt-5",
        request: dict[str, Any] | None = None,
        created_at: datetime | None = None,
        completion_window: str | None = None,
        tenant_id: str | None = None,
    ) -> Job:
        created = created_at or datetime.now(UTC)
        return add_job(
            session,
            tenant_id or tenant.id,
            status="finalizing",
            model=model,
            request_body=request or {"model": model, "input": "hi"},
            deadline_at=created + timedelta(hours=6),
            created_at=created,
            completion_window=completion_window,
        )

    return make

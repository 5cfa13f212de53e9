"""Small data factories for tests that work below the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from longhaul.core.ids import new_job_id
from longhaul.core.models import Job, utcnow


def add_job(session: Session, tenant_id: str, *, commit: bool = True, **fields: Any) -> Job:
    """Insert a job with every required column filled; ``fields`` override any of them."""
    now = fields.get("created_at") or utcnow()
    model = fields.get("model", "gpt-5.5")
    values: dict[str, Any] = {
        "id": new_job_id(),
        "tenant_id": tenant_id,
        "status": "queued",
        "model": model,
        "request_body": {"model": model, "input": "hi"},
        "request_hash": "0" * 64,
        "deadline_at": now + timedelta(hours=1),
        "state_history": [],
        "possibly_duplicated": False,
        "submit_attempts": 0,
        "poll_count": 0,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    job = Job(**values)
    session.add(job)
    if commit:
        session.commit()
    else:
        session.flush()
    return job

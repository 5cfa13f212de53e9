"""The event store: numbering fenced by the relay's lease, retention, deletion, the 400s."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from longhaul.core.config import Settings
from longhaul.core.models import utcnow
from longhaul.core.models.streams import JobEvent, JobStream
from longhaul.core.streams import jobs as stream_jobs
from longhaul.core.streams import store
from tests.support.factories import add_job


def _stream(session: Session, tenant: Any) -> str:
    job = add_job(session, tenant.id, status="in_progress")
    assert store.open_stream(session, job, {"id": job.id, "status": "queued"})
    assert not store.open_stream(session, job, {"id": job.id})  # once per job
    session.commit()
    return job.id


def _pending(job_id: str, first: int, count: int, up: int) -> store.Pending:
    events = [
        store.numbered("upstream", {"type": "response.output_text.delta", "delta": "x"}, first + i)
        for i in range(count)
    ]
    return store.Pending(job_id, events, up + count - 1, list(range(up, up + count)))


def test_only_the_lease_holder_appends_and_only_in_order(session: Session, tenant: Any) -> None:
    job_id = _stream(session, tenant)
    claimed = stream_jobs.claim_streams(session, "relay-a", 1000, 30)
    assert job_id in [c.job_id for c in claimed]
    session.commit()
    assert store.append_batch(session, "relay-a", [_pending(job_id, 1, 3, 1)], 30) == {job_id}
    # Another relay (lease lost), or a stale cursor (someone wrote meanwhile): nothing stored.
    assert store.append_batch(session, "relay-b", [_pending(job_id, 4, 2, 4)], 30) == set()
    assert store.append_batch(session, "relay-a", [_pending(job_id, 2, 2, 2)], 30) == set()
    session.commit()
    events = store.events_after(session, job_id, -1)
    assert [e.sequence_number for e in events] == [0, 1, 2, 3]
    assert [json.loads(e.data)["sequence_number"] for e in events] == [0, 1, 2, 3]
    assert events[0].type == "response.created" and events[0].kind == "longhaul"
    row = session.get(JobStream, job_id)
    assert row is not None and (row.next_sequence_number, row.upstream_sequence_number) == (4, 3)
    assert store.events_after(session, job_id, 2) == events[3:]


def test_retention_and_delete(session: Session, tenant: Any) -> None:
    old, recent, running = (_stream(session, tenant) for _ in range(3))
    session.execute(
        update(JobStream).where(JobStream.job_id.in_([old, recent])).values(status="done")
    )
    session.execute(
        update(JobEvent)
        .where(JobEvent.job_id.in_([old, running]))
        .values(created_at=utcnow() - timedelta(days=40))
    )
    session.commit()
    assert store.purge_expired(session, Settings(event_retention_days=30)) == 1
    assert store.purge_expired(session, Settings(event_retention_days=None)) == 0
    session.commit()

    def count(job_id: str) -> int:
        query = select(func.count()).where(JobEvent.job_id == job_id)
        return int(session.execute(query).scalar_one())

    assert (count(old), count(recent), count(running)) == (0, 1, 1)  # a live stream is kept
    store.delete_events(session, recent)
    session.commit()
    assert count(recent) == 0 and session.get(JobStream, recent) is None


def test_stream_requests_without_a_stream(
    database_url: str, redis_url: str, session: Session
) -> None:
    from longhaul.api.app import create_app
    from longhaul.core.auth import create_api_key

    key = create_api_key(session, tenant_name=f"streams-{uuid.uuid4().hex[:8]}")
    session.commit()
    auth = {"Authorization": f"Bearer {key}"}
    body = {"model": "gpt-5.5", "input": "hi", "background": True}
    with TestClient(create_app(), raise_server_exceptions=False) as api:
        job = api.post("/v1/responses", json=body, headers=auth).json()
        reply = api.get(f"/v1/responses/{job['id']}?stream=true", headers=auth)
        assert reply.status_code == 400
        assert reply.json()["error"]["param"] == "stream"
        plain = api.get(f"/v1/responses/{job['id']}?stream=false", headers=auth)
        assert plain.status_code == 200 and plain.json()["id"] == job["id"]


def test_progress_from_events(session: Session, tenant: Any) -> None:
    from longhaul.core.streams.progress import job_progress

    job_id = _stream(session, tenant)
    stream_jobs.claim_streams(session, "relay-p", 1000, 30)
    session.commit()
    ws = {"id": "ws_1", "type": "web_search_call", "status": "in_progress", "action": {}}
    ci = {"id": "ci_1", "type": "code_interpreter_call", "status": "in_progress"}
    raw: list[dict[str, Any]] = [
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning"}},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "Plan"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "ning"},
        {"type": "response.output_item.added", "output_index": 1, "item": ws},
        {"type": "response.output_item.done", "output_index": 1, "item": {**ws, "status": "x"}},
        {"type": "response.output_item.added", "output_index": 2, "item": ci},
        {"type": "response.output_text.delta", "output_index": 3, "delta": "Hello, "},
        {"type": "response.output_text.delta", "output_index": 3, "delta": "wor"},
    ]
    events = [store.numbered("upstream", e, n) for n, e in enumerate(raw, 1)]
    pending = store.Pending(job_id, events, len(raw), list(range(1, len(raw) + 1)))
    assert store.append_batch(session, "relay-p", [pending], 30) == {job_id}
    session.commit()
    progress = job_progress(session, job_id)
    assert progress is not None
    assert progress["reasoning_summary"] == "Planning"
    assert progress["output_text"] == "Hello, wor"
    assert [(c["id"], c["status"]) for c in progress["tool_calls"]] == [
        ("ws_1", "finished"),
        ("ci_1", "started"),
    ]
    assert (progress["tool_calls_started"], progress["tool_calls_finished"]) == (2, 1)
    assert progress["events"] == len(raw) + 1 and progress["last_event_at"]
    job = add_job(session, tenant.id)
    assert job_progress(session, job.id) is None  # no stream, no progress


def test_finished_names_the_jobs_that_ended(session: Session, tenant: Any) -> None:
    running = add_job(session, tenant.id, status="in_progress").id
    done = add_job(session, tenant.id, status="completed").id
    deleted = add_job(session, tenant.id, status="failed", deleted_at=utcnow()).id
    session.commit()
    gone = f"resp_lh_{uuid.uuid4().hex}"
    ended = stream_jobs.finished(session, [running, done, deleted, gone])
    assert ended == {done: "completed", deleted: None, gone: None}

"""A running job with an event stream: the page shows the reasoning summary and the output text
growing, from the job view's ``progress`` (events written here as the relay writes them)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.browser.conftest import Demo, sign_in
from tests.support.factories import add_job

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _event(session: Any, job_id: str, number: int, data: dict[str, Any]) -> None:
    from longhaul.core.models.streams import JobEvent, JobStream

    session.add(
        JobEvent(
            job_id=job_id,
            sequence_number=number,
            type=data["type"],
            kind="upstream",
            data=json.dumps({**data, "sequence_number": number}),
        )
    )
    stream = session.get(JobStream, job_id)
    stream.next_sequence_number = number + 1
    session.commit()


def test_stream_progress_grows_in_place(page: Any, demo: Demo) -> None:
    from longhaul.core.auth import tenant_for_key
    from longhaul.core.db import session_scope
    from longhaul.core.models import Job, utcnow
    from longhaul.core.models.streams import JobStream

    with session_scope() as session:
        # In progress, next poll a day away: the stack's sweep leaves it alone.
        job = add_job(
            session,
            tenant_for_key(session, demo.key).id,
            status="in_progress",
            next_poll_at=utcnow() + timedelta(days=1),
            deadline_at=utcnow() + timedelta(days=2),
            upstream_response_id=f"resp_never_{uuid.uuid4().hex}",
        )
        job_id = job.id
        session.add(JobStream(job_id=job_id, status="live", next_sequence_number=0))
        session.commit()
        _event(
            session,
            job_id,
            0,
            {
                "type": "response.reasoning_summary_text.delta",
                "output_index": 0,
                "summary_index": 0,
                "delta": "Looking at comets",
            },
        )
        _event(
            session,
            job_id,
            1,
            {
                "type": "response.output_item.added",
                "output_index": 1,
                "item": {"type": "web_search_call", "id": "ws_1"},
            },
        )
        _event(
            session,
            job_id,
            2,
            {
                "type": "response.output_text.delta",
                "output_index": 2,
                "content_index": 0,
                "delta": "Comets are",
            },
        )
    try:
        sign_in(page, demo)
        page.goto(f"{demo.url}/ui/jobs/{job_id}")
        page.evaluate("() => { window.__same_page = true; }")
        page.wait_for_function(
            "() => document.getElementById('live-text').textContent.includes('Comets are')"
        )
        assert "Looking at comets" in page.inner_text("#live-text")
        assert "tool calls 0/1 done" in page.inner_text("#live-line")
        with session_scope() as session:
            _event(
                session,
                job_id,
                3,
                {
                    "type": "response.output_text.delta",
                    "output_index": 2,
                    "content_index": 0,
                    "delta": " icy <b>bodies</b>",
                },
            )
        page.wait_for_function(
            "() => document.getElementById('live-text').textContent.includes('icy <b>bodies</b>')"
        )  # grown in place, as text (the tag is shown, not parsed)
        assert page.evaluate("() => window.__same_page") is True
        assert page.locator("#live-text b").count() == 0
    finally:
        with session_scope() as session:  # leave no active job behind for other tests
            row = session.get(Job, job_id)
            assert row is not None
            row.status = "cancelled"

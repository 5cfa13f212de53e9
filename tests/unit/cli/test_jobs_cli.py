"""`longhaul jobs`: the readable final view and the live progress bars, on canned job views."""

from __future__ import annotations

from typing import Any

import pytest

from longhaul.cli import jobs

VIEW: dict[str, Any] = {
    "id": "resp_lh_1", "status": "completed", "model": "gpt-5",
    "upstream_response_id": "resp_up_1", "created_at": "2026-11-29T10:00:00+00:00",
    "submitted_at": "2026-11-29T10:00:01+00:00", "finished_at": "2026-11-29T10:02:00+00:00",
    "output_text": "line 1\nline 2", "error": None,
    "cost": {"currency": "USD", "total": "0.012000", "by_kind": {"input_tokens": "0.002000"},
             "unpriced": []},
    "artifacts": [{"filename": "chart.png", "content_type": "image/png", "size": 10,
                   "download_url": "http://x/v1/jobs/resp_lh_1/artifacts/art_1"}],
}  # fmt: skip


def test_render_shows_what_a_person_needs() -> None:
    text = jobs.render(VIEW)
    assert text.splitlines()[0] == "resp_lh_1  completed  (gpt-5)"
    for part in ("upstream:   resp_up_1", "    line 2", "USD 0.012000", "chart.png (image/png"):
        assert part in text
    failed = jobs.render({**VIEW, "status": "failed", "error": {"code": "x", "message": "boom"}})
    assert "error:      x: boom" in failed


class FakeApi:
    def __init__(self, sequence: list[str]) -> None:
        self.sequence = sequence

    def job(self, job_id: str) -> dict[str, Any]:
        status = self.sequence.pop(0) if len(self.sequence) > 1 else self.sequence[0]
        return {**VIEW, "id": job_id, "status": status, "poll_count": 3}


def test_bars_follow_the_job_to_its_end(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(jobs.time, "sleep", lambda _: None)
    api = FakeApi(["queued", "in_progress", "cancelling", "finalizing", "completed"])
    views = jobs._wait_with_bars(api, {"resp_lh_1": api.job("resp_lh_1")}, None)  # type: ignore[arg-type]
    assert views["resp_lh_1"]["status"] == "completed"
    assert "resp_lh_1" in capsys.readouterr().out


def test_exit_codes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(jobs.time, "sleep", lambda _: None)
    assert jobs._follow(FakeApi(["completed"]), ["a"], as_json=True, timeout=None) == 0  # type: ignore[arg-type]
    assert jobs._follow(FakeApi(["failed"]), ["a"], as_json=False, timeout=None) == 1  # type: ignore[arg-type]
    assert jobs._follow(FakeApi(["queued"]), ["a"], as_json=True, timeout=0) == 3  # type: ignore[arg-type]

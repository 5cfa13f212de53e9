"""Log format, quiet housekeeping, rotation of `longhaul up`'s files."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from longhaul.cli.process import rotate
from longhaul.core import logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logs.clear_job()


def test_json_lines_carry_the_job_context(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("json", "INFO")
    logs.bind_job("resp_lh_1", "poll", "ten_1", "resp_up_1")
    logging.getLogger("longhaul.core.jobs.poll").info("polled %s", "resp_lh_1")
    logs.clear_job()
    logging.getLogger("celery.app.trace").info("Task longhaul.maintenance.sweep[x] succeeded")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 1  # the housekeeping line is DEBUG now, below INFO
    assert lines[0]["event"] == "polled resp_lh_1" and lines[0]["level"] == "info"
    assert {k: lines[0][k] for k in ("job_id", "step", "tenant", "upstream_id")} == {
        "job_id": "resp_lh_1", "step": "poll", "tenant": "ten_1", "upstream_id": "resp_up_1",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("logger", "message", "quiet"),
    [
        ("celery.beat", "Scheduler: Sending due task sweep-due-polls (longhaul.maintenance.sweep)",
         True),
        ("celery.worker.strategy", "Task longhaul.webhooks.deliver_due[1] received", True),
        ("celery.app.trace", "Task longhaul.jobs.poll[1] succeeded in 0.1s: None", False),
        ("uvicorn.access", '127.0.0.1:1 - "GET /readyz HTTP/1.1" 200', True),
        ("uvicorn.access", '127.0.0.1:1 - "POST /v1/responses HTTP/1.1" 200', False),
        ("longhaul.worker.tasks.maintenance", "reconcile repaired 1 job(s)", False),
    ],
)  # fmt: skip
def test_housekeeping_is_debug(
    restore_logging: None, logger: str, message: str, quiet: bool
) -> None:
    logging.getLogger().setLevel(logging.INFO)
    record = logging.LogRecord(logger, logging.INFO, __file__, 1, message, None, None)
    assert logs.QuietHousekeeping().filter(record) is not quiet
    assert record.levelname == ("DEBUG" if quiet else "INFO")


def test_rotation_keeps_a_few_files(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with log.open("ab") as writer:  # as a child holds it: append mode, never reopened
        for round_ in range(5):
            writer.write(f"round {round_} ".encode() * 100)
            writer.flush()
            assert rotate(log, max_bytes=500, backups=3)
        writer.write(b"after")
        writer.flush()
    assert log.read_bytes() == b"after"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "worker.log", "worker.log.1", "worker.log.2", "worker.log.3",
    ]  # fmt: skip
    assert (tmp_path / "worker.log.1").read_bytes().startswith(b"round 4")
    assert not rotate(log, max_bytes=500, backups=3)

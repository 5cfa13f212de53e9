"""`longhaul up/status/down/demo` commands, without starting a stack."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from longhaul.cli.main import build_parser, main
from longhaul.cli.process import ProcessRecord, record_dict, write_state


def test_commands_exist() -> None:
    parser = build_parser()
    assert parser.parse_args(["up", "--detach", "--data-dir", "x"]).detach
    for command in (["status"], ["down"], ["demo", "--keep"]):
        assert callable(parser.parse_args(command).func)


def test_status_and_down_without_a_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--data-dir", str(tmp_path)]) == 3
    assert main(["down", "--data-dir", str(tmp_path)]) == 0
    assert "no stack running" in capsys.readouterr().out


def test_stale_state_is_reported_and_cleaned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A supervisor that died (here: a record whose PID belongs to another process) is not
    'running'; `down` removes the state file without signalling anyone."""
    me = ProcessRecord.of("supervisor", os.getpid(), group_leader=False)
    gone = ProcessRecord(**{**record_dict(me), "create_time": me.create_time - 1000})
    write_state(tmp_path, {"status": "ready", "supervisor": record_dict(gone), "processes": []})
    assert main(["status", "--data-dir", str(tmp_path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["running"] is False
    assert main(["down", "--data-dir", str(tmp_path)]) == 0
    assert not (tmp_path / "stack.json").exists()


def test_the_dev_stack_keeps_one_secret_key(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    from longhaul.cli.context import dev_secret_key

    key = dev_secret_key(tmp_path)
    assert dev_secret_key(tmp_path) == key  # kept: stored secrets stay readable after a restart
    assert Fernet(key).decrypt(Fernet(key).encrypt(b"x")) == b"x"
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0

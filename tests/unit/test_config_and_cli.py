from __future__ import annotations

import pytest

from longhaul.cli import main as cli
from longhaul.core.config import Settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("127.0.0.1/32, ::1/128", ("127.0.0.1/32", "::1/128")),
        ('["10.0.0.0/8"]', ("10.0.0.0/8",)),
        ("", ()),
    ],
)
def test_list_settings_take_json_or_commas(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.setenv("LONGHAUL_WEBHOOK_ALLOW_HOSTS", raw)
    monkeypatch.setenv("LONGHAUL_WEBHOOK_SCHEDULE_SECONDS", "0, 5,60")
    s = Settings()
    assert s.webhook_allow_hosts == expected
    assert s.webhook_schedule_seconds == (0.0, 5.0, 60.0)


def test_plain_postgres_url_gets_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LONGHAUL_DATABASE_URL", "postgresql://u@h:5/db")
    assert Settings().database_url == "postgresql+psycopg://u@h:5/db"


def test_simulator_flags_pass_through_and_others_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr("longhaul.simulator.__main__.main", lambda argv: seen.append(argv) or 0)
    assert cli.main(["simulator", "--port", "0", "--run-seconds", "2"]) == 0
    assert seen == [["--port", "0", "--run-seconds", "2"]]
    with pytest.raises(SystemExit) as info:
        cli.main(["migrate", "--bogus"])
    assert info.value.code == 2

"""Wrong settings end at once in one line naming the setting, from every service and `up`;
`/readyz` includes storage."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from longhaul.core import checks
from longhaul.core.config import Settings
from tests.integration.storage.moto_server import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    S3Endpoint,
    moto_s3,
)
from tests.support.infra import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LONGHAUL_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "longhaul.cli.main", *args],
        env={**base, "AWS_EC2_METADATA_DISABLED": "true", **env}, cwd=cwd,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("longhaul")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_wrong_database_url(database_url: str, redis_url: str, tmp_path: Path) -> None:
    bad = f"postgresql://postgres@127.0.0.1:{free_port()}/longhaul"
    env = {"LONGHAUL_DATABASE_URL": bad, "LONGHAUL_REDIS_URL": redis_url}
    for command in (["api"], ["keys", "list"]):
        line = one_line(run_cli(*command, env=env, cwd=tmp_path))
        assert "LONGHAUL_DATABASE_URL" in line and "PostgreSQL" in line, command


def test_wrong_redis_url(database_url: str, tmp_path: Path) -> None:
    bad = f"redis://127.0.0.1:{free_port()}/0"
    env = {"LONGHAUL_DATABASE_URL": database_url, "LONGHAUL_REDIS_URL": bad}
    for command in (["worker"], ["beat"]):
        line = one_line(run_cli(*command, env=env, cwd=tmp_path))
        assert "LONGHAUL_REDIS_URL" in line and bad in line, command


def test_up_with_a_wrong_database_url_stops_in_one_line(redis_url: str, tmp_path: Path) -> None:
    bad = f"postgresql://postgres@127.0.0.1:{free_port()}/longhaul"
    env = {"LONGHAUL_DATABASE_URL": bad, "LONGHAUL_REDIS_URL": redis_url}
    result = run_cli("up", "--detach", "--data-dir", str(tmp_path / "data"), env=env, cwd=tmp_path)
    line = one_line(result)
    assert line.startswith("longhaul up: cannot use PostgreSQL") and "LONGHAUL_DATABASE_URL" in line


def test_s3_without_credentials(
    database_url: str, redis_url: str, s3: S3Endpoint, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    env = {
        "LONGHAUL_DATABASE_URL": database_url,
        "LONGHAUL_REDIS_URL": redis_url,
        "LONGHAUL_STORAGE_URL": f"s3://{bucket}/lh",
        "LONGHAUL_S3_ENDPOINT_URL": s3.url,
        "LONGHAUL_S3_REGION": REGION,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }
    line = one_line(run_cli("api", env=env, cwd=tmp_path))
    assert "no S3 credentials" in line and "LONGHAUL_S3_ACCESS_KEY_ID" in line


def test_storage_check_writes_and_reports_each_problem(s3: S3Endpoint, tmp_path: Path) -> None:
    good = Settings(
        storage_url=f"s3://{s3.new_bucket()}/lh", s3_endpoint_url=s3.url, s3_region=REGION,
        s3_access_key_id=ACCESS_KEY, s3_secret_access_key=SECRET_KEY,
    )  # fmt: skip
    checks.check_storage(good)
    client = s3.client()
    bucket = good.storage_url.split("/")[2]
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # the probe is gone

    missing = good.model_copy(update={"storage_url": "s3://no-such-bucket-here/lh"})
    with pytest.raises(checks.SettingError) as info:
        checks.check_storage(missing)
    assert info.value.setting == "LONGHAUL_STORAGE_URL"

    nowhere = good.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(checks.SettingError) as info:
        checks.check_storage(nowhere)
    assert info.value.setting == "LONGHAUL_S3_ENDPOINT_URL"

    checks.check_storage(Settings(storage_url=(tmp_path / "art").as_uri()))
    assert list((tmp_path / "art").rglob("probe-*")) == []
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(checks.SettingError) as info:
        checks.check_storage(Settings(storage_url=(blocked / "art").as_uri()))
    assert info.value.setting == "LONGHAUL_STORAGE_URL"


def test_readyz_includes_storage(
    database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from longhaul.api import app as app_module
    from longhaul.api.routes import health
    from longhaul.core.config import get_settings

    monkeypatch.setenv("LONGHAUL_STORAGE_URL", (tmp_path / "art").as_uri())
    get_settings.cache_clear()
    health._storage_seen.clear()
    client = TestClient(app_module.create_app())
    body = client.get("/readyz").json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "storage": "ok"}

    blocked = tmp_path / "file"
    blocked.write_text("x")
    monkeypatch.setenv("LONGHAUL_STORAGE_URL", (blocked / "art").as_uri())
    get_settings.cache_clear()
    health._storage_seen.clear()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "LONGHAUL_STORAGE_URL" in response.json()["checks"]["storage"]
    get_settings.cache_clear()


def test_check_command(
    database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import json
    from datetime import UTC, datetime, timedelta

    import redis
    from redbeat.decoder import RedBeatJSONEncoder

    from longhaul.cli.main import main
    from longhaul.core.config import get_settings

    monkeypatch.setenv("LONGHAUL_STORAGE_URL", (tmp_path / "art").as_uri())
    get_settings.cache_clear()
    assert main(["check"]) == 0
    assert [line.split()[:2] for line in capsys.readouterr().out.splitlines()] == [
        ["database", "ok"], ["redis", "ok"], ["storage", "ok"],
    ]  # fmt: skip
    client = redis.Redis.from_url(redis_url)
    key = "longhaul:redbeat:sweep-due-polls"
    client.delete(key)
    assert main(["check", "beat"]) == 2
    assert "never sent the sweep" in capsys.readouterr().err
    for age, code in ((5, 0), (600, 2)):
        last = datetime.now(UTC) - timedelta(seconds=age)
        client.hset(key, "meta", json.dumps({"last_run_at": last}, cls=RedBeatJSONEncoder))
        assert main(["check", "beat"]) == code, age
    client.delete(key)
    assert main(["check", "bogus"]) == 2
    get_settings.cache_clear()

"""`longhaul up --detach` with nothing configured, a job through the official SDK, `longhaul down`.

This is the README's promise: no LONGHAUL_* variables, an empty data folder, and the embedded
PostgreSQL, redis-server (or fakeredis), simulator, API, worker, beat and Flower all start; then
`down` leaves no process behind.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from longhaul.cli.process import ProcessRecord, children_of, group_members, read_state

pytestmark = pytest.mark.e2e


def longhaul(
    *args: str, cwd: Path, timeout: float = 240, data_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAUL_")}
    if data_dir is not None:  # as a user who set LONGHAUL_DATA_DIR (or ran `up` in this folder)
        env["LONGHAUL_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "longhaul.cli.main", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    work = tmp_path_factory.mktemp("stack")
    data_dir = work / "data"
    result = longhaul("up", "--detach", "--data-dir", str(data_dir), cwd=work)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield json.loads(result.stdout.strip().splitlines()[-1]), data_dir
    finally:
        longhaul("down", "--data-dir", str(data_dir), cwd=work)


def test_up_prints_where_everything_is(up: tuple[dict[str, Any], Path]) -> None:
    info, data_dir = up
    assert info["api"].startswith("http://127.0.0.1:") and info["api"].endswith("/v1")
    assert info["flower"].startswith("http://127.0.0.1:")
    assert info["api_key"].startswith("lh_sk_")
    assert info["simulator"].endswith("/v1")
    assert info["database"] == "embedded"
    assert info["redis"] in ("redis-server", "fakeredis")
    status = longhaul("status", "--data-dir", str(data_dir), cwd=data_dir.parent)
    assert status.returncode == 0, status.stdout
    for name in ("postgres", "simulator", "api", "worker", "worker-webhooks", "beat", "relay",
                 "flower"):  # fmt: skip
        assert f"{name} " in status.stdout


def test_a_job_from_the_official_sdk_completes(up: tuple[dict[str, Any], Path]) -> None:
    info, _ = up
    client = openai.OpenAI(base_url=info["api"], api_key=info["api_key"], max_retries=0)
    job = client.responses.create(model="gpt-5", input="Say hello", background=True)
    assert job.status == "queued"
    deadline = time.monotonic() + 120
    while job.status not in ("completed", "failed", "cancelled", "incomplete"):
        assert time.monotonic() < deadline, f"still {job.status}"
        time.sleep(0.5)
        job = client.responses.retrieve(job.id)
    assert job.status == "completed"
    assert "Say hello" in job.output_text


def test_admin_commands_find_the_running_stack(up: tuple[dict[str, Any], Path]) -> None:
    """`keys` reaches the embedded PostgreSQL through stack.json, with nothing configured."""
    _, data_dir = up
    created = longhaul("keys", "create", "--tenant", "ops-cli", cwd=data_dir, data_dir=data_dir)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    listed = longhaul("keys", "list", "--tenant", "ops-cli", "--json", cwd=data_dir,
                      data_dir=data_dir)  # fmt: skip
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["prefix"] for r in rows] == [key[:12]]
    revoked = longhaul("keys", "revoke", key[:12], cwd=data_dir, data_dir=data_dir)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    info, _ = up
    client = openai.OpenAI(base_url=info["api"], api_key=key, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.responses.create(model="gpt-5", input="x", background=True)


def test_upstream_keys_can_be_stored_with_nothing_configured(
    up: tuple[dict[str, Any], Path],
) -> None:
    """`up` made a secret key for the stack (kept in the data folder): the CLI stores an upstream
    key with it, and the worker decrypts it to run a job there with that key."""
    info, data_dir = up
    assert (data_dir / "secret_key").stat().st_mode & 0o077 == 0
    added = longhaul("upstreams", "add", "byok-dev", "--tenant", "dev", "--base-url",
                     info["simulator"], "--api-key", "sk-dev-own", cwd=data_dir,
                     data_dir=data_dir)  # fmt: skip
    assert added.returncode == 0, added.stderr
    client = openai.OpenAI(base_url=info["api"], api_key=info["api_key"], max_retries=0)
    job = client.responses.create(
        model="gpt-5", input="Mine", background=True,
        extra_body={"longhaul": {"upstream": "byok-dev"}},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while job.status not in ("completed", "failed", "cancelled", "incomplete"):
        assert time.monotonic() < deadline, f"still {job.status}"
        time.sleep(0.5)
        job = client.responses.retrieve(job.id)
    assert job.status == "completed"
    sim_root = info["simulator"].removesuffix("/v1")
    upstream_id = job.longhaul["upstream_response_id"]  # type: ignore[attr-defined]
    with urllib.request.urlopen(f"{sim_root}/_sim/responses/{upstream_id}", timeout=10) as r:
        assert json.loads(r.read())["auth"]["key"] == "sk-dev-own"


def test_jobs_cli_submits_watches_and_shows(up: tuple[dict[str, Any], Path]) -> None:
    _, data_dir = up
    run = longhaul("jobs", "submit", "Say hello from the CLI", "--watch", "--json",
                   cwd=data_dir, data_dir=data_dir)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    view = json.loads(run.stdout.strip().splitlines()[-1])
    assert view["status"] == "completed" and "Say hello from the CLI" in view["output_text"]
    listed = longhaul("jobs", "list", "--json", cwd=data_dir, data_dir=data_dir)
    assert view["id"] in [j["id"] for j in json.loads(listed.stdout)["data"]]
    shown = longhaul("jobs", "show", view["id"], cwd=data_dir, data_dir=data_dir)
    assert shown.returncode == 0
    assert shown.stdout.startswith(f"{view['id']}  completed") and "output:" in shown.stdout


def test_readyz_checks_storage_too(up: tuple[dict[str, Any], Path]) -> None:
    info, _ = up
    with urllib.request.urlopen(info["api"].removesuffix("/v1") + "/readyz", timeout=10) as r:
        assert json.load(r)["checks"] == {"database": "ok", "redis": "ok", "storage": "ok"}


def readme_block(heading: str, language: str) -> str:
    """The first ``language`` code block after ``heading`` in the README, as written."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    after = text[text.index(heading) :]
    start = after.index(f"```{language}\n") + len(language) + 4
    return after[start : after.index("```", start)]


def test_readme_snippets_run_as_written(up: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    """The SDK and curl examples, with only the key (and a loopback webhook) filled in."""
    info, _ = up
    hook = "http://127.0.0.1:9/hook"  # nothing listens: the deliveries fail quietly, offline
    sdk = readme_block("### From the OpenAI SDK", "python")
    sdk = sdk.replace("http://127.0.0.1:8000/v1", info["api"]).replace("lh_sk_…", info["api_key"])
    sdk = sdk.replace("https://example.com/hooks/longhaul", hook)
    run = subprocess.run([sys.executable, "-c", sdk], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    first, final, cost = run.stdout.strip().splitlines()[:1] + run.stdout.strip().splitlines()[-2:]
    assert first.endswith(" queued") and final.startswith("completed ")
    assert cost.startswith("cost (USD): ") and cost != "cost (USD): None"

    shell = readme_block("### With curl", "bash")
    export = next(line for line in shell.splitlines() if line.startswith("export LONGHAUL="))
    shell = shell.replace(export, f"export LONGHAUL={info['api']} KEY={info['api_key']}")
    shell = shell.replace("https://example.com/hook", hook)
    run = subprocess.run(["bash", "-c", "set -eo pipefail\n" + shell], cwd=tmp_path,
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert [p.suffix for p in tmp_path.iterdir()] == [".png"]  # the artifact, downloaded
    replies, text, decoder = [], run.stdout.strip(), json.JSONDecoder()
    while text:  # curl prints the bodies back to back, without newlines
        reply, end = decoder.raw_decode(text)
        replies.append(reply)
        text = text[end:].lstrip()
    job, _, usage = replies
    assert job["status"] == "completed" and job["cost"]["unpriced"] == []
    assert usage["group_by"] == ["day", "model", "tool"] and usage["data"]


def test_flower_is_read_only_behind_basic_auth(up: tuple[dict[str, Any], Path]) -> None:
    info, _ = up
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"{info['flower']}/api/workers", timeout=10)
    assert denied.value.code == 401
    auth = base64.b64encode(info["flower_auth"].encode()).decode()
    request = urllib.request.Request(
        f"{info['flower']}/api/workers?refresh=1", headers={"Authorization": f"Basic {auth}"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status == 200
        assert json.load(resp), "Flower sees no worker"


def test_down_leaves_no_process_behind(up: tuple[dict[str, Any], Path]) -> None:
    _, data_dir = up
    state = read_state(data_dir)
    assert state is not None
    records = [ProcessRecord(**state["supervisor"]), *children_of(state)]
    assert len(records) >= 7 and all(r.alive() for r in records)

    result = longhaul("down", "--data-dir", str(data_dir), cwd=data_dir.parent, timeout=180)
    assert result.returncode == 0, result.stderr

    assert [r.name for r in records if r.alive()] == []
    assert [r.name for r in records if group_members(r)] == []
    assert read_state(data_dir) is None
    again = longhaul("status", "--data-dir", str(data_dir), cwd=data_dir.parent)
    assert again.returncode == 3

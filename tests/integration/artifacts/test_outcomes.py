"""Every outcome a user can see on an artifact row: stored, missing, too_large, failed, expired."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.artifacts.cleanup import cleanup_expired
from longhaul.core.artifacts.service import (
    archive_job_artifacts,
    artifact_summaries,
    delete_job_artifacts,
)
from longhaul.core.auth import create_api_key
from longhaul.core.config import Settings, get_settings
from longhaul.core.models import Job, Tenant, utcnow
from longhaul.core.models.artifacts import Artifact
from longhaul.core.storage.local import LocalStorage
from tests.integration.artifacts.conftest import run_response
from tests.integration.artifacts.flaky import flaky_proxy

CI = {"type": "code_interpreter", "container": {"type": "auto"}}


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


def settings(**overrides: Any) -> Settings:
    return get_settings().model_copy(update=overrides)


def rows(session: Session, job: Job) -> dict[str, Artifact]:
    found = session.scalars(select(Artifact).where(Artifact.job_id == job.id)).all()
    return {a.filename: a for a in found}


def test_every_image_format_is_archived_with_its_extension_and_type(
    session: Session, make_job: Any, upstream: openai.OpenAI, local: LocalStorage
) -> None:
    formats = ["png", "webp", "jpeg", "gif", "svg"]
    response = run_response(
        upstream,
        model="gpt-5.5",
        input="five logos",
        tools=[{"type": "image_generation", "output_format": f} for f in formats],
    )
    job = make_job()
    archive_job_artifacts(session, job, response, upstream=upstream, storage=local)
    got = rows(session, job)
    expected_types = {
        "generated_image_1.png": "image/png",
        "generated_image_2.webp": "image/webp",
        "generated_image_3.jpg": "image/jpeg",
        "generated_image_4.gif": "image/gif",
        "generated_image_5.svg": "image/svg+xml",
    }
    assert {name: a.content_type for name, a in got.items()} == expected_types
    images = [item for item in response["output"] if item["type"] == "image_generation_call"]
    for item, name in zip(images, expected_types, strict=True):
        data = base64.b64decode(item["result"])
        assert got[name].sha256 == hashlib.sha256(data).hexdigest()
        assert got[name].size == len(data)
        assert local.open(got[name].storage_key).read_all() == data


def test_expired_container_gives_missing_rows_and_the_rest_is_kept(
    session: Session, make_job: Any, upstream: openai.OpenAI, local: LocalStorage
) -> None:
    response = run_response(
        upstream,
        model="gpt-5.5",
        input="x",
        tools=[CI, {"type": "image_generation"}],
        metadata={"longhaul_sim": "files:2,expired"},
    )
    job = make_job()
    result = archive_job_artifacts(session, job, response, upstream=upstream, storage=local)
    got = rows(session, job)
    assert {n: a.status for n, a in got.items()} == {
        "chart_1.png": "missing",
        "results_2.csv": "missing",
        "generated_image_1.png": "stored",
    }
    cid = got["chart_1.png"].source["container_id"]
    assert cid in result.unlisted_containers
    error = got["chart_1.png"].error or ""
    assert f"container {cid}" in error and "HTTP 404" in error
    summary = {s["filename"]: s for s in artifact_summaries(session, job, "http://x")}
    assert summary["chart_1.png"]["download_url"] is None
    assert summary["chart_1.png"]["error"] == error
    assert summary["generated_image_1.png"]["download_url"] is not None


def test_uncited_container_files_are_found_by_listing_the_container(
    session: Session, make_job: Any, upstream: openai.OpenAI, local: LocalStorage
) -> None:
    response = run_response(
        upstream, model="gpt-5.5", input="x", tools=[CI], metadata={"longhaul_sim": "files:4"}
    )
    silent = copy.deepcopy(response)
    for item in silent["output"]:
        for part in item.get("content") or []:
            part["annotations"] = []
    job = make_job()
    archive_job_artifacts(session, job, silent, upstream=upstream, storage=local)
    got = rows(session, job)
    assert set(got) == {"chart_1.png", "results_2.csv", "summary_3.txt", "data_4.json"}
    assert {a.status for a in got.values()} == {"stored"}
    assert got["data_4.json"].content_type == "application/json"


def test_files_api_citations_are_archived(
    session: Session, make_job: Any, upstream: openai.OpenAI, local: LocalStorage
) -> None:
    response = run_response(
        upstream,
        model="gpt-5.5",
        input="search my docs",
        tools=[{"type": "file_search", "vector_store_ids": ["vs_1"]}],
    )
    job = make_job()
    archive_job_artifacts(session, job, response, upstream=upstream, storage=local)
    [artifact] = rows(session, job).values()
    assert artifact.kind == "file" and artifact.status == "stored"
    expected = upstream.files.content(artifact.source["file_id"]).read()
    assert artifact.sha256 == hashlib.sha256(expected).hexdigest()
    assert artifact.filename == "document_1.txt"


def test_size_caps_record_too_large_and_stop_the_download(
    session: Session, make_job: Any, upstream: openai.OpenAI, local: LocalStorage
) -> None:
    response = run_response(
        upstream,
        model="gpt-5.5",
        input="x",
        tools=[CI, {"type": "image_generation"}],
        metadata={"longhaul_sim": "files:2,filesize:5000000"},
    )
    job = make_job()
    capped = settings(artifact_max_bytes=1_000_000, job_artifacts_max_bytes=10_000_000)
    archive_job_artifacts(session, job, response, upstream=upstream, storage=local, settings=capped)
    got = rows(session, job)
    big = got["large_output.bin"]
    assert big.status == "too_large"
    assert "per-artifact limit of 1000000 bytes" in (big.error or "")
    assert not local.exists(big.storage_key)
    assert got["chart_1.png"].status == "stored"

    # A per-job total: the first file fits, a later one would overflow it.
    job2 = make_job()
    chart = got["chart_1.png"].size or 0
    tight = settings(job_artifacts_max_bytes=chart + 10)
    archive_job_artifacts(session, job2, response, upstream=upstream, storage=local, settings=tight)
    got2 = rows(session, job2)
    assert got2["chart_1.png"].status == "stored"
    over = [a for a in got2.values() if a.status == "too_large"]
    assert over and all("per-job limit" in (a.error or "") for a in over)


def test_transient_errors_are_retried(
    session: Session, make_job: Any, upstream: openai.OpenAI, simulator: Any, local: LocalStorage
) -> None:
    response = run_response(upstream, model="gpt-5.5", input="x", tools=[CI])
    with flaky_proxy(simulator.url, failures=2) as proxy:
        flaky = openai.OpenAI(base_url=proxy.url, api_key="sk-test", max_retries=0)
        job = make_job()
        archive_job_artifacts(session, job, response, upstream=flaky, storage=local)
    [artifact] = rows(session, job).values()
    assert artifact.status == "stored"
    assert list(proxy.seen.values()) == [3]  # two 503s, then the bytes


def test_persistent_failure_is_recorded_and_a_rerun_recovers(
    session: Session, make_job: Any, upstream: openai.OpenAI, simulator: Any, local: LocalStorage
) -> None:
    response = run_response(upstream, model="gpt-5.5", input="x", tools=[CI])
    job = make_job()
    with flaky_proxy(simulator.url, failures=-1, status=502) as proxy:
        flaky = openai.OpenAI(base_url=proxy.url, api_key="sk-test", max_retries=0)
        archive_job_artifacts(session, job, response, upstream=flaky, storage=local)
    [artifact] = rows(session, job).values()
    assert artifact.status == "failed"
    assert "HTTP 502" in (artifact.error or "")
    assert list(proxy.seen.values()) == [4]  # bounded: MAX_ATTEMPTS
    archive_job_artifacts(session, job, response, upstream=upstream, storage=local)
    session.refresh(artifact)
    assert (artifact.status, artifact.error, artifact.attempts) == ("stored", None, 2)


def test_retention_cleanup_deletes_objects_and_marks_rows(
    session: Session,
    tenant: Tenant,
    make_job: Any,
    upstream: openai.OpenAI,
    local: LocalStorage,
    api: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LONGHAUL_STORAGE_URL", f"file://{local.root}")
    get_settings.cache_clear()
    response = run_response(
        upstream, model="gpt-5.5", input="x", tools=[{"type": "image_generation"}]
    )
    job = make_job()
    archive_job_artifacts(
        session,
        job,
        response,
        upstream=upstream,
        storage=local,
        settings=settings(artifact_ttl_days=7),
    )
    session.commit()
    [artifact] = rows(session, job).values()
    assert artifact.expires_at is not None
    assert timedelta(days=6.9) < artifact.expires_at - utcnow() <= timedelta(days=7)

    cleanup_expired(session, local, utcnow())  # not due yet
    session.commit()
    session.refresh(artifact)
    assert artifact.status == "stored" and local.exists(artifact.storage_key)
    later = artifact.expires_at + timedelta(seconds=1)
    expired = cleanup_expired(session, local, later)
    session.commit()
    assert expired >= 1
    session.refresh(artifact)
    assert artifact.status == "expired"
    assert not local.exists(artifact.storage_key)
    key = create_api_key(session, tenant_name=tenant.name)
    session.commit()
    reply = api.get(
        f"/v1/jobs/{job.id}/artifacts/{artifact.id}", headers={"Authorization": f"Bearer {key}"}
    )
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "artifact_expired"
    get_settings.cache_clear()


def test_delete_job_artifacts_removes_objects_and_rows(
    session: Session, make_job: Any, upstream: openai.OpenAI, local: LocalStorage
) -> None:
    response = run_response(
        upstream, model="gpt-5.5", input="x", tools=[CI], metadata={"longhaul_sim": "files:2"}
    )
    job = make_job()
    archive_job_artifacts(session, job, response, upstream=upstream, storage=local)
    keys = [a.storage_key for a in rows(session, job).values()]
    assert len(keys) == 2 and all(local.exists(k) for k in keys)
    assert delete_job_artifacts(session, job, local) == 2
    session.commit()
    assert rows(session, job) == {}
    assert not any(local.exists(k) for k in keys)
    assert not (local.root / "tenant" / job.tenant_id / "job" / job.id).exists()


def test_code_interpreter_data_url_image_is_archived(
    session: Session, make_job: Any, upstream: openai.OpenAI, local: LocalStorage
) -> None:
    from longhaul.simulator.images import render_image

    png = render_image("data-url", "png", "32x32")
    response = {
        "id": "resp_x",
        "status": "completed",
        "output": [
            {
                "id": "ci_1",
                "type": "code_interpreter_call",
                "container_id": None,
                "outputs": [
                    {
                        "type": "image",
                        "url": "data:image/png;base64," + base64.b64encode(png).decode(),
                    }
                ],
            }
        ],
    }
    job = make_job()
    archive_job_artifacts(session, job, response, upstream=upstream, storage=local)
    [artifact] = rows(session, job).values()
    assert (artifact.kind, artifact.status, artifact.content_type) == (
        "code_interpreter_image",
        "stored",
        "image/png",
    )
    assert local.open(artifact.storage_key).read_all() == png

"""Archiving a simulator response end to end, on both backends, then downloading it back."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx2
import openai
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from longhaul.core.artifacts.service import archive_job_artifacts, artifact_summaries
from longhaul.core.auth import create_api_key
from longhaul.core.config import get_settings
from longhaul.core.models import Tenant
from longhaul.core.models.artifacts import Artifact
from longhaul.core.storage import Storage
from longhaul.core.storage.local import LocalStorage
from tests.integration.artifacts.conftest import run_response

CI_AND_IMAGE = {
    "model": "gpt-5.5",
    "input": "Plot the data and draw a logo",
    "tools": [
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "image_generation", "output_format": "png"},
    ],
    "include": ["code_interpreter_call.outputs"],
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected_files(upstream: openai.OpenAI, response: dict[str, Any]) -> dict[str, str]:
    """source key -> sha256, read straight from the upstream (independently of the service)."""
    expected = {}
    for item in response["output"]:
        if item["type"] == "image_generation_call":
            expected[f"image:{item['id']}"] = sha(base64.b64decode(item["result"]))
        if item["type"] == "code_interpreter_call":
            cid = item["container_id"]
            for f in upstream.containers.files.list(cid):
                data = upstream.containers.files.content.retrieve(f.id, container_id=cid).read()
                expected[f"container:{cid}/{f.id}"] = sha(data)
    return expected


def object_count(storage: Storage) -> int:
    if isinstance(storage, LocalStorage):
        return sum(1 for p in storage.root.rglob("*") if p.is_file())
    listed = storage.client.list_objects_v2(Bucket=storage.bucket)  # type: ignore[attr-defined]
    return int(listed.get("KeyCount", 0))


def sim_counter(simulator: Any, name: str) -> int:
    stats = httpx2.get(simulator.url.removesuffix("/v1") + "/_sim/stats").json()
    return int(stats["counters"].get(name, 0))


def test_code_interpreter_and_image_job_archived_and_downloaded_identically(
    session: Session,
    tenant: Tenant,
    make_job: Any,
    upstream: openai.OpenAI,
    simulator: Any,
    backend: Storage,
    api: TestClient,
) -> None:
    response = run_response(upstream, **CI_AND_IMAGE, metadata={"longhaul_sim": "files:3"})
    expected = expected_files(upstream, response)
    assert len(expected) == 4  # 3 container files + 1 image
    job = make_job()

    archive_job_artifacts(session, job, response, upstream=upstream, storage=backend)
    session.commit()

    rows = session.scalars(select(Artifact).where(Artifact.job_id == job.id)).all()
    assert {r.source_key: r.sha256 for r in rows} == expected
    assert {r.status for r in rows} == {"stored"}
    by_name = {r.filename: r for r in rows}
    assert set(by_name) == {
        "chart_1.png",
        "results_2.csv",
        "summary_3.txt",
        "generated_image_1.png",
    }
    assert by_name["chart_1.png"].content_type == "image/png"
    assert by_name["results_2.csv"].content_type == "text/csv"
    assert by_name["generated_image_1.png"].kind == "image"
    assert all(r.storage_key.startswith(f"tenant/{tenant.id}/job/{job.id}/") for r in rows)
    # the code interpreter's image output is the same container file, linked to the tool call
    ci_index = next(
        i for i, it in enumerate(response["output"]) if it["type"] == "code_interpreter_call"
    )
    assert by_name["chart_1.png"].output_index == ci_index

    key = create_api_key(session, tenant_name=tenant.name)
    session.commit()
    summaries = artifact_summaries(session, job, "http://testserver")
    assert len(summaries) == 4
    view = api.get(f"/v1/jobs/{job.id}", headers={"Authorization": f"Bearer {key}"})
    assert view.status_code == 200
    assert [a["download_url"] for a in view.json()["artifacts"]] == [
        s["download_url"] for s in summaries
    ]
    for summary in summaries:
        assert summary["download_url"] == (
            f"http://testserver/v1/jobs/{job.id}/artifacts/{summary['id']}"
        )
        reply = api.get(summary["download_url"], headers={"Authorization": f"Bearer {key}"})
        if isinstance(backend, LocalStorage):
            assert reply.status_code == 200
            assert reply.headers["content-type"].startswith(summary["content_type"])
            assert reply.headers["etag"] == f'"{summary["sha256"]}"'
            assert "attachment" in reply.headers["content-disposition"]
            body = reply.content
        else:
            assert reply.status_code == 302
            location = reply.headers["location"]
            assert location.startswith(get_settings().s3_endpoint_url or "")
            body = httpx2.get(location).content
        assert sha(body) == summary["sha256"] == expected[summary["source"]["key"]]

    # Re-running finalize's archive step: no new rows, no new objects, no new downloads.
    objects, fetches = object_count(backend), sim_counter(simulator, "container_file_content")
    archive_job_artifacts(session, job, response, upstream=upstream, storage=backend)
    session.commit()
    count = session.scalar(select(func.count()).where(Artifact.job_id == job.id))
    assert count == 4
    assert object_count(backend) == objects == 4
    assert sim_counter(simulator, "container_file_content") == fetches


def test_other_tenants_get_404(
    session: Session,
    tenant: Tenant,
    make_job: Any,
    upstream: openai.OpenAI,
    backend: Storage,
    api: TestClient,
) -> None:
    response = run_response(upstream, **CI_AND_IMAGE)
    job = make_job()
    archive_job_artifacts(session, job, response, upstream=upstream, storage=backend)
    artifact = session.scalars(select(Artifact).where(Artifact.job_id == job.id)).first()
    assert artifact is not None
    stranger = create_api_key(session, tenant_name=f"other-{tenant.name}")
    owner = create_api_key(session, tenant_name=tenant.name)
    session.commit()
    url = f"/v1/jobs/{job.id}/artifacts/{artifact.id}"
    reply = api.get(url, headers={"Authorization": f"Bearer {stranger}"})
    assert reply.status_code == 404
    assert reply.json()["error"]["param"] == "artifact_id"
    assert api.get(url).status_code == 401
    wrong_job = api.get(
        f"/v1/jobs/resp_lh_nope/artifacts/{artifact.id}",
        headers={"Authorization": f"Bearer {owner}"},
    )
    assert wrong_job.status_code == 404

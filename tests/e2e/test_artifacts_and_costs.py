"""Through the official SDK: a code-interpreter + image-generation job ends with its files archived
(on local disk, and in another run in S3 over the real S3 protocol) and priced. Downloads return
the very bytes the upstream produced."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.integration.storage.moto_server import ACCESS_KEY, REGION, SECRET_KEY, moto_s3
from tests.support.stack import Stack, running_stack, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["local", "s3"])
def backend_env(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[dict[str, str]]:
    if request.param == "local":
        root: Path = tmp_path_factory.mktemp("artifacts")
        yield {"LONGHAUL_STORAGE_URL": f"file://{root}"}
        return
    with moto_s3() as endpoint:
        bucket = endpoint.new_bucket()
        yield {
            "LONGHAUL_STORAGE_URL": f"s3://{bucket}/archive",
            "LONGHAUL_S3_ENDPOINT_URL": endpoint.url,
            "LONGHAUL_S3_REGION": REGION,
            "LONGHAUL_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "LONGHAUL_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }


@pytest.fixture(scope="module")
def stack(
    database_url: str, redis_url: str, simulator: Any, backend_env: dict[str, str]
) -> Iterator[Stack]:
    with running_stack(database_url, redis_url, simulator.url, backend_env) as st:
        yield st


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_files_archived_downloadable_identical_and_priced(
    client: openai.OpenAI,
    stack: Stack,
    api_key: str,
    simulator: Any,
    backend_env: dict[str, str],
) -> None:
    created = client.responses.create(
        model="gpt-5.5",
        input="Plot the data and draw a lighthouse.",
        background=True,
        tools=[
            {"type": "code_interpreter", "container": {"type": "auto"}},
            {"type": "image_generation", "model": "gpt-image-1", "output_format": "webp"},
        ],
        metadata={"longhaul_sim": "files:2", "case": uuid.uuid4().hex[:6]},
    )
    done = wait_for(
        lambda: (r := client.responses.retrieve(created.id)).status == "completed" and r,
        30,
        what="the job",
    )
    headers = {"Authorization": f"Bearer {api_key}"}
    view = httpx.get(f"{stack.api_url}/v1/jobs/{created.id}", headers=headers).json()

    # What the upstream produced, fetched straight from it.
    upstream = openai.OpenAI(base_url=simulator.url, api_key="sk-x", max_retries=0)
    raw = upstream.responses.retrieve(view["upstream_response_id"])
    expected: dict[str, str] = {}
    for item in raw.output:
        if item.type == "image_generation_call":
            expected["image"] = sha(base64.b64decode(item.result or ""))
        if item.type == "code_interpreter_call":
            for f in upstream.containers.files.list(item.container_id):
                content = upstream.containers.files.content.retrieve(
                    f.id, container_id=item.container_id
                ).read()
                expected[f.path.rsplit("/", 1)[-1]] = sha(content)
    assert len(expected) == 3  # one image, two files

    artifacts = view["artifacts"]
    assert len(artifacts) == 3
    assert {a["status"] for a in artifacts} == {"stored"}
    with httpx.Client(follow_redirects=False, timeout=30) as http:
        for art in artifacts:
            r = http.get(art["download_url"], headers=headers)
            if backend_env["LONGHAUL_STORAGE_URL"].startswith("s3://"):
                assert r.status_code == 302  # presigned URL on the S3 endpoint
                r = http.get(r.headers["location"])
            assert r.status_code == 200
            assert sha(r.content) == art["sha256"]
            assert len(r.content) == art["size"]
    got = sorted(a["sha256"] for a in artifacts)
    assert got == sorted(expected.values())

    # The same artifacts ride on the Response object, in the `longhaul` extension.
    extension = (done.model_extra or {})["longhaul"]
    assert sorted(a["sha256"] for a in extension["artifacts"]) == got

    # Priced: tokens, the container session and the image, with a positive total.
    cost = view["cost"]
    assert Decimal(cost["total"]) > 0
    assert cost == extension["cost"]
    assert {"code_interpreter", "image_generation"} <= set(cost["by_tool"])
    assert sum(Decimal(v) for v in cost["by_kind"].values()) == Decimal(cost["total"])


def test_other_tenant_cannot_download(
    client: openai.OpenAI, stack: Stack, api_key: str, database_url: str
) -> None:
    from longhaul.core.auth import create_api_key
    from longhaul.core.db import session_scope

    created = client.responses.create(
        model="gpt-5.5",
        input="draw",
        background=True,
        tools=[{"type": "image_generation", "model": "gpt-image-1"}],
    )
    wait_for(lambda: client.responses.retrieve(created.id).status == "completed", 30)
    headers = {"Authorization": f"Bearer {api_key}"}
    art = httpx.get(f"{stack.api_url}/v1/jobs/{created.id}", headers=headers).json()["artifacts"][0]
    with session_scope(database_url) as session:
        other = create_api_key(session, tenant_name=f"o-{uuid.uuid4().hex[:6]}")
    r = httpx.get(art["download_url"], headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 404


def test_delete_removes_the_jobs_artifacts(
    client: openai.OpenAI, stack: Stack, api_key: str, backend_env: dict[str, str]
) -> None:
    created = client.responses.create(
        model="gpt-5.5",
        input="plot",
        background=True,
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        metadata={"longhaul_sim": "files:2"},
    )
    wait_for(lambda: client.responses.retrieve(created.id).status == "completed", 30)
    headers = {"Authorization": f"Bearer {api_key}"}
    arts = httpx.get(f"{stack.api_url}/v1/jobs/{created.id}", headers=headers).json()["artifacts"]
    assert len(arts) == 2 and all(
        httpx.get(a["download_url"], headers=headers).status_code in (200, 302) for a in arts
    )

    client.responses.delete(created.id)

    for a in arts:
        assert httpx.get(a["download_url"], headers=headers).status_code == 404
    url = backend_env["LONGHAUL_STORAGE_URL"]
    if url.startswith("file://"):
        left = [
            p
            for p in Path(url.removeprefix("file://")).rglob("*")
            if p.is_file() and created.id in str(p)
        ]
    else:
        from longhaul.core.storage.factory import s3_client

        bucket = url.removeprefix("s3://").split("/")[0]
        s3 = s3_client(
            endpoint_url=backend_env["LONGHAUL_S3_ENDPOINT_URL"],
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
        )
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        left = [o["Key"] for o in listed if created.id in o["Key"]]
    assert left == []

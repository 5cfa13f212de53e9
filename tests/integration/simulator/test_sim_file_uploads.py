"""The simulator's Files API uploads, as OpenAI: multipart upload, retrieve, content, list,
delete; the file object matches the OpenAPI schema; with ``key_scoped`` another key sees none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from longhaul.simulator import SimulatorHandle, start_simulator


def test_upload_retrieve_content_list_delete(client: openai.OpenAI, schemas: Any) -> None:
    uploaded = client.files.create(file=("a.txt", b"hello files"), purpose="user_data")
    schemas.check("OpenAIFile", uploaded.model_dump(mode="json", exclude_none=True))
    assert (uploaded.filename, uploaded.bytes, uploaded.purpose) == ("a.txt", 11, "user_data")
    assert client.files.retrieve(uploaded.id).id == uploaded.id
    assert client.files.content(uploaded.id).read() == b"hello files"
    assert uploaded.id in [f.id for f in client.files.list()]
    assert client.files.delete(uploaded.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_an_upload_needs_a_purpose(sim: SimulatorHandle) -> None:
    import httpx2

    r = httpx2.post(
        sim.url + "/files",
        headers={"Authorization": "Bearer sk-test"},
        files={"file": ("a.txt", b"x")},
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "purpose"


@pytest.fixture(scope="module")
def scoped() -> Iterator[SimulatorHandle]:
    with start_simulator(key_scoped=True) as handle:
        yield handle


def test_with_key_scoped_another_key_sees_no_upload(scoped: SimulatorHandle) -> None:
    a = openai.OpenAI(base_url=scoped.url, api_key="sk-a", max_retries=0)
    b = openai.OpenAI(base_url=scoped.url, api_key="sk-b", max_retries=0)
    uploaded = a.files.create(file=("a.txt", b"mine"), purpose="user_data")
    assert [f.id for f in b.files.list()] == []
    for call in (b.files.retrieve, b.files.content, b.files.delete):
        with pytest.raises(openai.NotFoundError):
            call(uploaded.id)
    assert a.files.content(uploaded.id).read() == b"mine"

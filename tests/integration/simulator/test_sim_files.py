"""Code-interpreter containers and files, Files API, streamed content."""

from __future__ import annotations

import hashlib
import io
import resource
import time
from typing import Any

import httpx2
import openai
import pytest
from PIL import Image

CI_TOOL = {"type": "code_interpreter", "container": {"type": "auto"}}


def run_ci(client: openai.OpenAI, wait_terminal: Any, sim: str = "", **kwargs: Any) -> Any:
    created = client.responses.create(
        model="gpt-5.5",
        input="Analyse the sales data and plot it",
        background=True,
        tools=[CI_TOOL],
        metadata={"longhaul_sim": sim} if sim else {},
        **kwargs,
    )
    return wait_terminal(created.id)


def citations(response: Any) -> list[Any]:
    message = response.output[-1]
    return [a for a in message.content[0].annotations if a.type == "container_file_citation"]


def sha256_of(client: openai.OpenAI, container_id: str, file_id: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with client.containers.files.content.with_streaming_response.retrieve(
        file_id, container_id=container_id
    ) as reply:
        for chunk in reply.iter_bytes():
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def test_code_interpreter_files(client: openai.OpenAI, wait_terminal: Any) -> None:
    done = run_ci(client, wait_terminal, "files:3", include=["code_interpreter_call.outputs"])
    call = next(item for item in done.output if item.type == "code_interpreter_call")
    assert call.container_id.startswith("cntr_")
    assert call.code
    assert call.outputs[0].type == "logs"
    image_output = next(o for o in call.outputs if o.type == "image")

    cited = citations(done)
    assert len(cited) == 3
    for annotation in cited:
        assert done.output_text[annotation.start_index : annotation.end_index] == (
            annotation.filename
        )
        assert annotation.container_id == call.container_id

    container = client.containers.retrieve(call.container_id)
    assert container.id == call.container_id
    listing = client.containers.files.list(call.container_id, order="asc")
    assert [f.id for f in listing.data] == [a.file_id for a in cited]
    assert all(f.source == "assistant" for f in listing.data)
    assert all(f.path.startswith("/mnt/data/") for f in listing.data)

    for entry in listing.data:
        meta = client.containers.files.retrieve(entry.id, container_id=call.container_id)
        assert meta.bytes == entry.bytes
        first = sha256_of(client, call.container_id, entry.id)
        assert first == sha256_of(client, call.container_id, entry.id)
        assert first[1] == entry.bytes

    png = client.containers.files.content.retrieve(cited[0].file_id, container_id=call.container_id)
    assert Image.open(io.BytesIO(png.read())).format == "PNG"
    assert httpx2.get(image_output.url, headers={"Authorization": "Bearer k"}).content[:4] == (
        b"\x89PNG"
    )


def test_outputs_only_with_include(client: openai.OpenAI, wait_terminal: Any) -> None:
    done = run_ci(client, wait_terminal)
    call = next(item for item in done.output if item.type == "code_interpreter_call")
    assert call.outputs is None
    assert len(citations(done)) == 1


def test_file_content_is_deterministic_across_responses(
    client: openai.OpenAI, wait_terminal: Any
) -> None:
    hashes = []
    for _ in range(2):
        done = run_ci(client, wait_terminal, "files:2")
        cited = citations(done)
        hashes.append([sha256_of(client, c.container_id, c.file_id) for c in cited])
    assert hashes[0] == hashes[1]


def test_large_file_is_streamed(client: openai.OpenAI, wait_terminal: Any) -> None:
    size = 50 * 1024 * 1024
    done = run_ci(client, wait_terminal, f"files:1,filesize:{size}")
    (cited,) = citations(done)
    assert cited.filename == "large_output.bin"
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    first = sha256_of(client, cited.container_id, cited.file_id)
    assert first[1] == size
    assert first == sha256_of(client, cited.container_id, cited.file_id)
    # Client and server share this process: neither may have held the 50 MB body in memory.
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kib < 40 * 1024


def test_expired_container_404s_after_completion(client: openai.OpenAI, wait_terminal: Any) -> None:
    created = client.responses.create(
        model="gpt-5.5",
        input="x",
        background=True,
        tools=[CI_TOOL],
        metadata={"longhaul_sim": "expired,slow:0.4"},
    )
    time.sleep(0.15)
    assert client.responses.retrieve(created.id).status == "in_progress"
    done = wait_terminal(created.id)
    (cited,) = citations(done)
    with pytest.raises(openai.NotFoundError):
        client.containers.files.content.retrieve(cited.file_id, container_id=cited.container_id)
    with pytest.raises(openai.NotFoundError):
        client.containers.files.list(cited.container_id)
    with pytest.raises(openai.NotFoundError):
        client.containers.retrieve(cited.container_id)


def test_unknown_container_file_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.containers.files.retrieve("cfile_x", container_id="cntr_x")


def test_file_search_files_api(client: openai.OpenAI, wait_terminal: Any) -> None:
    created = client.responses.create(
        model="gpt-5.5",
        input="What do the docs say about refunds?",
        background=True,
        tools=[{"type": "file_search", "vector_store_ids": ["vs_1"]}],
        include=["file_search_call.results"],
    )
    done = wait_terminal(created.id)
    call = next(item for item in done.output if item.type == "file_search_call")
    assert call.queries and call.results
    for result in call.results:
        meta = client.files.retrieve(result.file_id)
        assert meta.filename == result.filename
        content = client.files.content(result.file_id).read()
        assert len(content) == meta.bytes
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve("file-unknown")

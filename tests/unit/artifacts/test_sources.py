"""Golden response dicts -> artifact sources (a pure function)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from longhaul.core.artifacts.sources import (
    code_interpreter_containers,
    container_file_sources,
    find_sources,
    merge,
)

B64 = base64.b64encode(b"\x89PNG\r\n\x1a\nxyz").decode()


def response(*items: dict[str, Any]) -> dict[str, Any]:
    return {"id": "resp_1", "status": "completed", "output": list(items)}


def message(*annotations: dict[str, Any], item_id: str = "msg_1") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "t", "annotations": list(annotations)}],
    }


@pytest.mark.parametrize(
    ("fmt", "name", "ctype"),
    [
        ("png", "generated_image_1.png", "image/png"),
        ("webp", "generated_image_1.webp", "image/webp"),
        ("jpeg", "generated_image_1.jpg", "image/jpeg"),
        ("gif", "generated_image_1.gif", "image/gif"),
        ("svg", "generated_image_1.svg", "image/svg+xml"),
        (None, "generated_image_1.png", "image/png"),
    ],
)
def test_image_generation_result_for_every_format(fmt: str | None, name: str, ctype: str) -> None:
    item = {"id": "ig_1", "type": "image_generation_call", "status": "completed", "result": B64}
    if fmt:
        item["output_format"] = fmt
    [source] = find_sources(response(item))
    assert (source.key, source.kind, source.filename, source.content_type) == (
        "image:ig_1",
        "image",
        name,
        ctype,
    )
    assert (source.output_index, source.item_id, source.image_b64) == (0, "ig_1", B64)
    assert "image_b64" not in source.details()


def test_failed_image_without_result_is_not_a_source() -> None:
    item = {"id": "ig_1", "type": "image_generation_call", "status": "failed", "result": None}
    assert find_sources(response(item)) == []


def test_several_images_are_numbered_in_order() -> None:
    items = [
        {"id": f"ig_{n}", "type": "image_generation_call", "result": B64, "output_format": "gif"}
        for n in range(3)
    ]
    names = [s.filename for s in find_sources(response(*items))]
    assert names == ["generated_image_1.gif", "generated_image_2.gif", "generated_image_3.gif"]


def test_container_citations_link_to_the_code_interpreter_call() -> None:
    ci = {"id": "ci_1", "type": "code_interpreter_call", "container_id": "cntr_1", "outputs": None}
    cite = {
        "type": "container_file_citation",
        "container_id": "cntr_1",
        "file_id": "cfile_1",
        "filename": "../../etc/passwd\n.csv",
        "start_index": 0,
        "end_index": 1,
    }
    [source] = find_sources(response({"type": "reasoning"}, ci, message(cite, cite)))
    assert source.key == "container:cntr_1/cfile_1"
    assert source.filename == "passwd_.csv"  # sanitised
    assert (source.output_index, source.item_id) == (1, "ci_1")
    assert code_interpreter_containers(response(ci, ci)) == [("cntr_1", 0, "ci_1")]


def test_citation_of_a_container_without_a_tool_call_links_to_the_message() -> None:
    cite = {
        "type": "container_file_citation",
        "container_id": "cntr_9",
        "file_id": "cfile_9",
        "filename": "a.txt",
    }
    [source] = find_sources(response(message(cite, item_id="msg_7")))
    assert (source.output_index, source.item_id, source.kind) == (0, "msg_7", "container_file")


def test_code_interpreter_image_output_is_the_container_file_it_names() -> None:
    url = "https://api.example.com/v1/containers/cntr_1/files/cfile_2/content"
    ci = {
        "id": "ci_1",
        "type": "code_interpreter_call",
        "container_id": "cntr_1",
        "outputs": [{"type": "logs", "logs": "ok"}, {"type": "image", "url": url}],
    }
    cite = {
        "type": "container_file_citation",
        "container_id": "cntr_1",
        "file_id": "cfile_2",
        "filename": "plot.png",
    }
    sources = find_sources(response(ci, message(cite)))
    assert [(s.key, s.filename, s.item_id) for s in sources] == [
        ("container:cntr_1/cfile_2", "plot.png", "ci_1")
    ]


def test_code_interpreter_image_data_and_foreign_urls() -> None:
    data_url = "data:image/jpeg;base64," + B64
    ci = {
        "id": "ci_1",
        "type": "code_interpreter_call",
        "container_id": "cntr_1",
        "outputs": [
            {"type": "image", "url": data_url},
            {"type": "image", "url": "https://cdn.example.com/plot"},
        ],
    }
    first, second = find_sources(response(ci))
    assert (first.key, first.kind, first.filename) == (
        "url:ci_1:0",
        "code_interpreter_image",
        "code_interpreter_image_1.jpg",
    )
    assert second.key == "url:ci_1:1" and second.url == "https://cdn.example.com/plot"
    assert len(first.details()["url"]) < 80  # a data URL is not copied into the row


def test_files_api_annotations() -> None:
    sources = find_sources(
        response(
            message(
                {"type": "file_path", "file_id": "file-abc", "index": 3},
                {
                    "type": "file_citation",
                    "file_id": "file-def",
                    "filename": "report.pdf",
                    "index": 9,
                },
                {
                    "type": "file_citation",
                    "file_id": "file-abc",
                    "filename": "named.txt",
                    "index": 9,
                },
                {"type": "url_citation", "url": "https://example.com", "title": "x"},
            )
        )
    )
    assert [(s.key, s.kind, s.filename) for s in sources] == [
        ("file:file-abc", "file", "named.txt"),  # a later annotation supplies the real name
        ("file:file-def", "file", "report.pdf"),
    ]


def test_listing_adds_only_assistant_files_and_sizes_for_known_ones() -> None:
    ci = {"id": "ci_1", "type": "code_interpreter_call", "container_id": "cntr_1"}
    cite = {
        "type": "container_file_citation",
        "container_id": "cntr_1",
        "file_id": "cfile_1",
        "filename": "cited.csv",
    }
    listed = [
        {"id": "cfile_1", "path": "/mnt/data/cited.csv", "bytes": 10, "source": "assistant"},
        {"id": "cfile_2", "path": "/mnt/data/sub/extra.json", "bytes": 20, "source": "assistant"},
        {"id": "cfile_3", "path": "/mnt/data/input.xlsx", "bytes": 30, "source": "user"},
    ]
    more = container_file_sources("cntr_1", listed, output_index=0, item_id="ci_1")
    merged = merge(find_sources(response(ci, message(cite))), more)
    assert [(s.key, s.filename, s.size_hint) for s in merged] == [
        ("container:cntr_1/cfile_1", "cited.csv", 10),
        ("container:cntr_1/cfile_2", "extra.json", 20),
    ]


def test_garbage_is_ignored() -> None:
    weird = {
        "output": [
            None,
            "x",
            {"type": "message", "content": [None, {"annotations": [1]}]},
            {"type": "container_file_citation"},
            {"type": "image_generation_call"},
        ]
    }
    assert find_sources(weird) == []
    assert find_sources({}) == []

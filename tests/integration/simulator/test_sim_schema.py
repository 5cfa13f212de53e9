"""Every kind of simulator reply validates against OpenAI's published (Aug 2026) schemas."""

from __future__ import annotations

import copy
import time
from typing import Any

import httpx2
import pytest

from longhaul.simulator import SimulatorHandle

AUTH = {"Authorization": "Bearer sk-test"}


class Raw:
    """Raw JSON over HTTP, so we validate exactly what the server sent (not SDK models)."""

    def __init__(self, sim: SimulatorHandle) -> None:
        self.http = httpx2.Client(base_url=sim.url, headers=AUTH, timeout=10)

    def __call__(self, method: str, path: str, body: Any = None) -> httpx2.Response:
        return self.http.request(method, path, json=body)

    def create(self, **body: Any) -> dict[str, Any]:
        payload = {"model": "gpt-5.5", "input": "Tell me about comets", "background": True}
        payload.update(body)
        reply = self("POST", "/responses", payload)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def wait(self, response_id: str) -> dict[str, Any]:
        for _ in range(200):
            obj = self("GET", f"/responses/{response_id}").json()
            if obj["status"] not in ("queued", "in_progress"):
                return obj
            time.sleep(0.02)
        raise AssertionError("response never finished")


@pytest.fixture
def raw(sim: SimulatorHandle) -> Raw:
    return Raw(sim)


TOOL_CASES: dict[str, dict[str, Any]] = {
    "no_tools": {},
    "non_reasoning_model": {"model": "gpt-4.1"},
    "web_search": {"tools": [{"type": "web_search"}]},
    "web_search_preview": {"tools": [{"type": "web_search_preview"}]},
    "image_png": {"tools": [{"type": "image_generation"}]},
    "image_webp": {
        "tools": [{"type": "image_generation", "output_format": "webp", "quality": "low"}]
    },
    "image_jpeg": {
        "tools": [{"type": "image_generation", "output_format": "jpeg", "size": "1536x1024"}]
    },
    "code_interpreter": {
        "tools": [{"type": "code_interpreter", "container": {"type": "auto"}}],
        "include": ["code_interpreter_call.outputs"],
        "metadata": {"longhaul_sim": "files:4"},
    },
    "file_search": {
        "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}],
        "include": ["file_search_call.results"],
    },
    "all_tools": {
        "tools": [
            {"type": "web_search"},
            {"type": "image_generation"},
            {"type": "code_interpreter", "container": {"type": "auto"}},
            {"type": "file_search", "vector_store_ids": ["vs_1"]},
        ],
        "reasoning": {"effort": "high", "summary": "auto"},
        "instructions": "Be brief.",
        "service_tier": "flex",
    },
}


@pytest.mark.parametrize("case", sorted(TOOL_CASES))
def test_completed_response_matches_schema(raw: Raw, schemas: Any, case: str) -> None:
    created = raw.create(**TOOL_CASES[case])
    schemas.check("Response", created)
    done = raw.wait(created["id"])
    assert done["status"] == "completed"
    schemas.check("Response", done)


@pytest.mark.parametrize("scenario", ["fail", "incomplete", "cancelled"])
def test_terminal_statuses_match_schema(raw: Raw, schemas: Any, scenario: str) -> None:
    done = raw.wait(raw.create(metadata={"longhaul_sim": scenario})["id"])
    assert done["status"] == {"fail": "failed"}.get(scenario, scenario)
    schemas.check("Response", done)


def test_in_progress_and_cancel_match_schema(raw: Raw, schemas: Any) -> None:
    created = raw.create(metadata={"longhaul_sim": "slow:10"})
    time.sleep(0.1)
    running = raw("GET", f"/responses/{created['id']}").json()
    assert running["status"] == "in_progress"
    schemas.check("Response", running)
    cancelled = raw("POST", f"/responses/{created['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    schemas.check("Response", cancelled)


def test_input_items_match_schema(raw: Raw, schemas: Any) -> None:
    created = raw.create(
        input=[
            {"role": "developer", "content": "Be precise."},
            {"role": "user", "content": [{"type": "input_text", "text": "Hello"}]},
            {"role": "assistant", "content": "Hi! How can I help?"},
            {"type": "message", "role": "user", "content": "Tell me about comets"},
        ]
    )
    page = raw("GET", f"/responses/{created['id']}/input_items?limit=3").json()
    assert len(page["data"]) == 3 and page["has_more"] is True
    schemas.check("ResponseItemList", page)


def test_containers_and_files_match_schema(raw: Raw, schemas: Any) -> None:
    done = raw.wait(raw.create(**TOOL_CASES["all_tools"])["id"])
    call = next(i for i in done["output"] if i["type"] == "code_interpreter_call")
    cid = call["container_id"]
    schemas.check("ContainerResource", raw("GET", f"/containers/{cid}").json())
    listing = raw("GET", f"/containers/{cid}/files").json()
    schemas.check("ContainerFileListResource", listing)
    fid = listing["data"][0]["id"]
    schemas.check("ContainerFileResource", raw("GET", f"/containers/{cid}/files/{fid}").json())
    search = next(i for i in done["output"] if i["type"] == "file_search_call")
    del search  # results are only included on request; file ids are in the annotations
    message = done["output"][-1]["content"][0]
    file_id = next(a["file_id"] for a in message["annotations"] if a["type"] == "file_citation")
    schemas.check("OpenAIFile", raw("GET", f"/files/{file_id}").json())


def test_errors_match_schema(raw: Raw, schemas: Any, sim: SimulatorHandle) -> None:
    replies = [
        raw("GET", "/responses/resp_missing"),
        raw(
            "POST",
            "/responses",
            {"model": "gpt-5.5", "input": "x", "metadata": {"longhaul_sim": "quota"}},
        ),
        raw(
            "POST",
            "/responses",
            {"model": "gpt-5.5", "input": "x", "metadata": {"longhaul_sim": "bad_request"}},
        ),
        raw(
            "POST",
            "/responses",
            {"model": "gpt-5.5", "input": "x", "metadata": {"longhaul_sim": "create429:1"}},
        ),
        raw(
            "POST",
            "/responses",
            {"model": "gpt-5.5", "input": "x", "metadata": {"longhaul_sim": "create500:1"}},
        ),
        raw("POST", "/responses", {"input": "no model"}),
        httpx2.get(f"{sim.url}/responses/resp_x"),
        raw("GET", "/containers/cntr_missing/files"),
    ]
    assert [r.status_code for r in replies] == [404, 429, 400, 429, 500, 400, 401, 404]
    for reply in replies:
        schemas.check("ErrorResponse", reply.json())


def test_validation_rejects_broken_objects(raw: Raw, schemas: Any) -> None:
    """Guard against a validator that accepts anything (e.g. unresolved refs)."""
    done = raw.wait(raw.create(**TOOL_CASES["all_tools"])["id"])
    schemas.check("Response", done)

    bad_status = copy.deepcopy(done)
    bad_status["status"] = "done"
    assert schemas.errors("Response", bad_status)

    missing_output = copy.deepcopy(done)
    del missing_output["output"]
    assert schemas.errors("Response", missing_output)

    bad_item = copy.deepcopy(done)
    del bad_item["output"][-1]["content"][0]["annotations"]
    assert schemas.errors("Response", bad_item)

    bad_usage = copy.deepcopy(done)
    bad_usage["usage"]["input_tokens"] = "many"
    assert schemas.errors("Response", bad_usage)

    assert schemas.errors("ErrorResponse", {"error": {"message": "x"}})

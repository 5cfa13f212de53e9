"""Simulator event streams: OpenAI's event schemas, sequence numbers, resume, the age limit."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2
import openai
import pytest

from longhaul.simulator import SimulatorHandle, start_simulator

from .test_sim_schema import TOOL_CASES

AUTH = {"Authorization": "Bearer sk-test"}


def sse(reply: httpx2.Response) -> list[dict[str, Any]]:
    """Decode an SSE body by hand (not with the SDK), checking ``event:`` matches ``type``."""
    events = []
    for frame in reply.text.split("\n\n"):
        lines = [line for line in frame.splitlines() if line and not line.startswith(":")]
        if not lines:
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        event = json.loads(fields["data"])
        assert fields["event"] == event["type"]
        events.append(event)
    return events


def stream_create(sim: SimulatorHandle, **body: Any) -> list[dict[str, Any]]:
    payload = {"model": "gpt-5.5", "input": "Tell me about comets", "background": True}
    payload.update(body, stream=True)
    reply = httpx2.post(f"{sim.url}/responses", json=payload, headers=AUTH, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/event-stream")
    return sse(reply)


@pytest.fixture(scope="module")
def event_schemas(openapi_doc: dict[str, Any]) -> dict[str, str]:
    """Event ``type`` → the name of its schema, from the spec's ``ResponseStreamEvent`` union."""
    schemas = openapi_doc["components"]["schemas"]
    names = [ref["$ref"].rsplit("/", 1)[1] for ref in schemas["ResponseStreamEvent"]["anyOf"]]
    return {schemas[n]["properties"]["type"]["enum"][0]: n for n in names}


def check_events(events: list[dict[str, Any]], schemas: Any, event_schemas: dict[str, str]) -> None:
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for event in events:
        assert event["type"] in event_schemas, event["type"]
        schemas.check(event_schemas[event["type"]], event)
        schemas.check("ResponseStreamEvent", event)


@pytest.mark.parametrize("case", sorted(TOOL_CASES))
def test_streamed_events_match_schemas(
    sim: SimulatorHandle, schemas: Any, event_schemas: dict[str, str], case: str
) -> None:
    events = stream_create(sim, **TOOL_CASES[case])
    check_events(events, schemas, event_schemas)
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert events[0]["response"]["status"] == "queued"
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    final = httpx2.get(f"{sim.url}/responses/{events[0]['response']['id']}", headers=AUTH).json()
    assert events[-1]["response"] == final
    # Every item that was added is done, and the text deltas add up to the final text.
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert added == list(range(len(final["output"])))
    assert done == final["output"]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == final["output"][-1]["content"][0]["text"]
    # The validator is not a rubber stamp.
    delta = next(e for e in events if e["type"] == "response.output_text.delta")
    assert schemas.errors(event_schemas[delta["type"]], {**delta, "delta": 5})
    assert schemas.errors(
        "ResponseStreamEvent", {"type": "response.completed", "sequence_number": 1}
    )


def test_tool_events_in_order(sim: SimulatorHandle) -> None:
    events = stream_create(
        sim,
        model="o3",
        reasoning={"effort": "low", "summary": "auto"},
        tools=[
            {"type": "web_search"},
            {"type": "code_interpreter", "container": {"type": "auto"}},
            {"type": "image_generation", "partial_images": 2},
        ],
    )
    kinds = [e["type"] for e in events]
    for expected in (
        ["response.reasoning_summary_part.added", "response.reasoning_summary_text.delta"],
        ["response.web_search_call.in_progress", "response.web_search_call.searching"],
        ["response.code_interpreter_call_code.done", "response.code_interpreter_call.interpreting"],
    ):
        at = kinds.index(expected[0])
        assert kinds[at + 1] == expected[1]
    partials = [e for e in events if e["type"] == "response.image_generation_call.partial_image"]
    assert [p["partial_image_index"] for p in partials] == [0, 1]
    assert all(len(p["partial_image_b64"]) > 100 for p in partials)
    summary = "".join(
        e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta"
    )
    assert summary.startswith("**Planning the response**")


@pytest.mark.parametrize(
    ("scenario", "terminal"),
    [("fail", "response.failed"), ("incomplete", "response.incomplete")],
)
def test_failed_and_incomplete_streams(
    sim: SimulatorHandle, schemas: Any, event_schemas: dict[str, str], scenario: str, terminal: str
) -> None:
    events = stream_create(sim, metadata={"longhaul_sim": scenario})
    check_events(events, schemas, event_schemas)
    assert events[-1]["type"] == terminal


def test_sdk_stream_and_resume(sim: SimulatorHandle, client: openai.OpenAI) -> None:
    stream = client.responses.create(
        model="gpt-5.5", input="Tell me about comets", background=True, stream=True
    )
    head = []
    for event in stream:
        head.append(event)
        if len(head) == 5:
            break
    stream.close()
    response_id = head[0].response.id  # type: ignore[union-attr]
    rest = list(client.responses.retrieve(response_id, stream=True, starting_after=4))
    numbers = [e.sequence_number for e in head + rest]
    assert numbers == list(range(len(numbers)))
    assert rest[-1].type == "response.completed"
    # The SDK helper re-reads from the first event and accumulates the final response.
    with client.responses.stream(response_id=response_id) as helper:
        final = helper.get_final_response()
    assert final.id == response_id and final.output_text
    assert final.output_text == client.responses.retrieve(response_id).output_text


def test_resume_refused_past_age_limit_and_without_background() -> None:
    with start_simulator(queued_seconds=0.05, run_seconds=0.1, stream_resume_seconds=0.3) as sim:
        client = openai.OpenAI(base_url=sim.url, api_key="sk-test", max_retries=0)
        created = client.responses.create(model="gpt-5.5", input="hi", background=True)
        assert list(client.responses.retrieve(created.id, stream=True))[-1].type == (
            "response.completed"
        )
        time.sleep(0.4)
        with pytest.raises(openai.BadRequestError) as refused:
            list(client.responses.retrieve(created.id, stream=True, starting_after=2))
        assert "can no longer be streamed" in refused.value.message
        assert "0.3 seconds old" in refused.value.message
        plain = client.responses.create(model="gpt-5.5", input="hi")
        with pytest.raises(openai.BadRequestError) as not_background:
            list(client.responses.retrieve(plain.id, stream=True))
        assert not_background.value.param == "stream"  # type: ignore[attr-defined]


def test_bad_starting_after(sim: SimulatorHandle, client: openai.OpenAI) -> None:
    created = client.responses.create(model="gpt-5.5", input="hi", background=True)
    reply = httpx2.get(
        f"{sim.url}/responses/{created.id}?stream=true&starting_after=x", headers=AUTH
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "starting_after"


def test_streamdrop_cuts_first_stream_only(sim: SimulatorHandle, client: openai.OpenAI) -> None:
    stream = client.responses.create(
        model="gpt-5.5",
        input="hi",
        background=True,
        stream=True,
        metadata={"longhaul_sim": "streamdrop:4"},
    )
    got = []
    with pytest.raises((openai.APIConnectionError, httpx2.RemoteProtocolError)):
        for event in stream:
            got.append(event)
    assert [e.sequence_number for e in got] == [0, 1, 2, 3]
    rest = list(client.responses.retrieve(got[0].response.id, stream=True, starting_after=3))  # type: ignore[union-attr]
    assert rest[0].sequence_number == 4 and rest[-1].type == "response.completed"


def test_cancel_ends_stream_without_terminal_event(
    sim: SimulatorHandle, client: openai.OpenAI
) -> None:
    created = client.responses.create(
        model="gpt-5.5", input="hi", background=True, metadata={"longhaul_sim": "slow:30"}
    )
    stream = client.responses.retrieve(created.id, stream=True)
    seen = [next(iter(stream)).type]
    client.responses.cancel(created.id)
    seen += [e.type for e in stream]  # ends (does not hang for 30 s)
    assert seen[:2] == ["response.created", "response.queued"]
    assert not {"response.completed", "response.failed", "response.incomplete"} & set(seen)


def test_obfuscation_on_deltas_unless_disabled(sim: SimulatorHandle) -> None:
    padded = stream_create(sim)
    plain = stream_create(sim, stream_options={"include_obfuscation": False})
    deltas = [e for e in padded if e["type"].endswith(".delta")]
    assert deltas and all(isinstance(e["obfuscation"], str) for e in deltas)
    assert not any("obfuscation" in e for e in plain)


def test_admin_timeline_matches_the_stream(sim: SimulatorHandle, admin: Any) -> None:
    events = stream_create(sim)
    timeline = admin("GET", f"/_sim/responses/{events[0]['response']['id']}/events")["data"]
    assert [(t["sequence_number"], t["type"]) for t in timeline] == [
        (e["sequence_number"], e["type"]) for e in events
    ]
    assert [t["at"] for t in timeline] == sorted(t["at"] for t in timeline)

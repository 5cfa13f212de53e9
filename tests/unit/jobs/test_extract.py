from longhaul.core.jobs import extract

RESPONSE = {
    "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {
            "type": "message",
            "id": "msg_1",
            "content": [
                {"type": "output_text", "text": "Hello, ", "annotations": []},
                {"type": "refusal", "refusal": "no"},
                {"type": "output_text", "text": "world", "annotations": []},
            ],
        },
        {"type": "image_generation_call", "id": "ig_1", "result": "AAAA"},
    ]
}


def test_output_text_concatenates_text_parts_only() -> None:
    assert extract.output_text(RESPONSE) == "Hello, world"
    assert extract.output_text({"output": []}) == ""


def test_tool_calls_keep_output_index_and_skip_messages_and_reasoning() -> None:
    calls = extract.tool_calls(RESPONSE)
    assert [(i, item["type"]) for i, item in calls] == [
        (1, "web_search_call"),
        (3, "image_generation_call"),
    ]


def test_final_status() -> None:
    assert extract.final_status("completed", None, False) == "completed"
    assert extract.final_status("incomplete", None, False) == "incomplete"
    assert extract.final_status("cancelled", None, True) == "cancelled"
    deadline = {"code": "deadline_exceeded"}
    assert extract.final_status("cancelled", deadline, False) == "failed"
    assert extract.final_status(None, {"code": "invalid_request_error"}, False) == "failed"
    assert extract.final_status(None, None, True) == "cancelled"

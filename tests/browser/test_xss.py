"""Model and tool output is untrusted: nothing in it may run in the viewer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Demo, sign_in
from tests.support.factories import add_job

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PAYLOADS = [
    "<script>window.__xss = 'script'; alert('script')</script>",
    "<img src=x onerror=\"window.__xss='img'; alert('img')\">",
    "[click me](javascript:window.__xss='link';alert('link'))",
    "<a href=\"javascript:alert('a')\">a tag</a>",
    "<svg onload=alert('svg')></svg>",
    "<iframe src=\"javascript:alert('frame')\"></iframe>",
    "![img](x\" onerror=\"alert('md-img'))",
]
HOSTILE = "\n\n".join(PAYLOADS)


def _hostile_output() -> list[dict[str, Any]]:
    return [
        {"type": "reasoning", "id": "rs_x", "summary": [{"type": "summary_text", "text": HOSTILE}]},
        {
            "type": "web_search_call",
            "id": "ws_x",
            "status": "completed",
            "action": {
                "type": "search",
                "query": HOSTILE,
                "sources": [
                    {"type": "url", "url": "javascript:alert('source')"},
                    {"type": "url", "url": "https://example.org/ok"},
                ],
            },
        },
        {
            "type": "file_search_call",
            "id": "fs_x",
            "status": "completed",
            "queries": [HOSTILE],
            "results": [{"file_id": "f", "filename": HOSTILE, "score": 1, "text": HOSTILE}],
        },
        {
            "type": "code_interpreter_call",
            "id": "ci_x",
            "status": "completed",
            "code": HOSTILE,
            "outputs": [{"type": "logs", "logs": HOSTILE}],
        },
        {
            "type": "function_call",
            "id": "fc_x",
            "call_id": "c",
            "name": HOSTILE,
            "arguments": HOSTILE,
        },
        {"type": "function_call_output", "id": "fo_x", "call_id": "c", "output": HOSTILE},
        {
            "type": "mcp_call",
            "id": "mcp_x",
            "server_label": HOSTILE,
            "name": HOSTILE,
            "arguments": "{}",
            "output": HOSTILE,
            "error": HOSTILE,
        },
        {"type": "mcp_list_tools", "id": "ml_x", "server_label": "s", "tools": [{"name": HOSTILE}]},
        {
            "type": "message",
            "id": "msg_x",
            "role": "assistant",
            "status": "completed",
            "content": [
                {
                    "type": "output_text",
                    "text": HOSTILE,
                    "annotations": [
                        {
                            "type": "url_citation",
                            "url": "javascript:alert('cite')",
                            "title": HOSTILE,
                        },
                    ],
                }
            ],
        },
    ]


@pytest.fixture(scope="module")
def hostile_job(demo: Demo) -> str:
    from longhaul.core.auth import tenant_for_key
    from longhaul.core.db import session_scope

    with session_scope() as session:
        job = add_job(
            session,
            tenant_for_key(session, demo.key).id,
            status="completed",
            output_text=HOSTILE,
            response_body={
                "id": "resp_x",
                "object": "response",
                "status": "completed",
                "output": _hostile_output(),
            },
            job_metadata={"note": HOSTILE},
            error={"code": HOSTILE, "message": HOSTILE},
        )
        return job.id


def test_hostile_output_runs_nothing(page: Any, demo: Demo, hostile_job: str) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, demo)
    for job in (hostile_job, demo.jobs["xss"]):
        for tab in ("overview", "tools", "files", "cost", "deliveries", "timeline", "raw"):
            page.goto(f"{demo.url}/ui/jobs/{job}?tab={tab}")
            page.wait_for_load_state("load")
        page.goto(f"{demo.url}/ui/jobs/{job}?tab=tools")
        for details in page.locator("details").all():  # open everything, click every link
            details.evaluate("d => d.open = true")
        assert page.locator("a[href^='javascript:' i], iframe, svg[onload], [onerror]").count() == 0
        page.goto(f"{demo.url}/ui/jobs/{job}")
        for link in page.locator("#output a").all():
            link.evaluate("a => a.click()")  # opens tabs for http(s) links; nothing else
    page.goto(f"{demo.url}/ui/jobs?q=script")
    page.wait_for_load_state("load")
    assert demo.jobs["xss"] in page.inner_text("table.jobs")
    page.wait_for_timeout(500)  # let any deferred handler fire
    assert dialogs == []
    assert page.evaluate("() => window.__xss") is None
    assert page.errors == []  # no CSP violation (it would be a console error) and no exception
    # The hostile text is shown, as text.
    page.goto(f"{demo.url}/ui/jobs/{hostile_job}")
    assert "<script>window.__xss" in page.inner_text("#output")

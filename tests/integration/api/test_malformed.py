"""Malformed requests, table-driven over every operation the served OpenAPI document lists: bad
path and query values, JSON the API must refuse (NaN, Infinity, 1e400, 5000-digit integers, deep
nesting, NUL and lone surrogates), odd bodies for each route's own fields, and validly signed
inbound webhooks with odd payloads. None may get a 5xx; every refusal has OpenAI's error shape."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from longhaul.core.auth import create_api_key, tenant_for_key
from longhaul.core.config import get_settings
from longhaul.core.db import session_scope
from longhaul.core.webhooks.signing import generate_secret
from longhaul.simulator import start_simulator
from longhaul.simulator.webhooks import sign
from tests.support.factories import add_job
from tests.support.infra import own_database

ADMIN = f"lh_admin_{uuid.uuid4().hex}"
SECRET = generate_secret()
OK = {"model": "gpt-4.1", "input": "hi", "background": True}

BAD_PATH = ["a%00b", "%00", "x" * 3000, "%ED%A0%80", "%FF%FE", "..%2F..%2Fetc", "%F0%9F%98%80"]
BAD_QUERY = [
    "%00",
    "a%00b",
    "9999-12-31",
    "0000-01-01",
    "9999-12-31T23:59:59-23:59",
    "99999999999999999999999",
    "-1",
    "NaN",
    "1e400",
    "%ED%A0%80",
    "x" * 5000,
    "",
]
RAW_BODIES = [
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": -Infinity}',
    b'{"a": 1e400}',
    b'{"a": -1e400}',
    b"[" * 3000 + b"]" * 3000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b'{"a":' * 100 + b"1" + b"}" * 100,
    b'{"a": 1' + b"0" * 5000 + b"}",
    b'{"a": 99999999999999999999}',
    b'{"a": "\\ud800"}',
    b'{"a": "x\\udfff"}',
    b'{"a": "\\u0000"}',
    b'{"\\u0000": 1}',
    b"[]",
    b'"x"',
    b"null",
    b"",
    b"\xff\xfe",
    b'{"a": 1',
    b"123",
]
# Each route's own fields with odd values (merged into its valid body).
FIELD_CASES: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "/v1/responses": (
        OK,
        [
            {"model": "\u0000"},
            {"model": "x" * 10000},
            {"input": "\ud800"},
            {"input": [{"role": "user", "content": "\u0000"}]},
            {"input": [1, None, "x", []]},
            {"metadata": {"k": "\u0000"}},
            {"metadata": {"\u0000": "v"}},
            {"metadata": {"k": 5}},
            {"webhook": {"url": "http://[::1/"}},
            {"webhook": {"url": "http://user:pass@example.com/"}},
            {"webhook": {"url": "http://example.com:0/"}},
            {"webhook": {"url": "http://example.com:99999/"}},
            {"webhook": {"url": "javascript:alert(1)"}},
            {"webhook": {"url": "http://exa\u0000mple.com/"}},
            {"webhook": "x"},
            {"max_output_tokens": 10**30},
            {"max_output_tokens": -1},
            {"temperature": 1e308},
            {"previous_response_id": "\u0000"},
            {"previous_response_id": "resp_lh_" + "x" * 5000},
            {"previous_response_id": 5},
            {"conversation": "\u0000"},
            {"conversation": {"id": 7}},
            {"longhaul": {"deadline_seconds": 10**30}},
            {"longhaul": {"deadline_seconds": -5}},
            {"longhaul": {"upstream": "\u0000"}},
            {"background_options": {"completion_window": "\u0000"}},
            {"tools": [{"type": "file_search", "vector_store_ids": ["\u0000"]}]},
            {"tools": [{"type": "code_interpreter", "container": {"file_ids": [1]}}]},
            {"prompt": {"id": "\u0000"}},
        ],
    ),
    "/v1/webhook_endpoints": (
        {"url": "https://example.com/hook"},
        [
            {"url": "http://[::1/"},
            {"url": "\u0000"},
            {"url": "http://a\u0000b/"},
            {"url": "http://u:p@example.com/"},
            {"url": "http://example.com:0/"},
            {"url": "http://example.com:99999/"},
            {"url": 5},
            {"event_types": ["\u0000"]},
            {"event_types": ["response.completed"] * 70000},
            {"event_types": "response.completed"},
            {"description": "\u0000"},
        ],
    ),
    "/v1/admin/upstreams": (
        {"name": "fuzz", "base_url": "https://api.example.com/v1"},
        [
            {"name": "\u0000"},
            {"base_url": "http://[::1/"},
            {"base_url": "\u0000"},
            {"timeout_seconds": 1e308},
            {"timeout_seconds": -1},
            {"headers": {"\u0000": "x"}},
            {"headers": {"x": "\u0000"}},
            {"model_patterns": ["\u0000"]},
            {"kind": "\u0000"},
            {"tenant": "\u0000"},
        ],
    ),
    "/v1/responses/input_tokens": (
        {"model": "gpt-4.1", "input": "hi"},
        [{"model": "\u0000"}, {"input": "\ud800"}, {"previous_response_id": "\u0000"}],
    ),
}
# Validly signed inbound OpenAI webhooks with odd payloads.
INBOUND: list[Any] = [
    [],
    [1, 2],
    {},
    {"type": "response.completed"},
    {"type": "response.completed", "data": None},
    {"type": "response.completed", "data": "x"},
    {"type": "response.completed", "data": {"id": 5}},
    {"type": "response.completed", "data": {"id": "x" * 10000}},
    {"type": "response.completed", "data": {"id": "\u0000"}},
    {"type": "response.completed", "data": {"id": ["a"]}},
    {"type": 5, "data": {"id": "resp_1"}},
    {"type": "\u0000", "data": {"id": "resp_1"}},
    {"type": "x" * 10000, "data": {"id": "resp_1"}},
    {"id": 5, "type": "response.failed", "data": {"id": "resp_1"}},
    {"id": "evt_" + "x" * 10000, "type": "response.failed", "data": {"id": "resp_1"}},
    "just a string",
    None,
]


@dataclass
class Case:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None
    what: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def api(pg_server_url: str, redis_url: str) -> Iterator[TestClient]:
    """On a database of its own: what the table stores (jobs due now, endpoints) stays here."""
    from longhaul.api.app import create_app

    with own_database(pg_server_url), pytest.MonkeyPatch.context() as mp, start_simulator() as sim:
        mp.setenv("LONGHAUL_ADMIN_API_KEY", ADMIN)
        mp.setenv("LONGHAUL_OPENAI_WEBHOOK_SECRET", SECRET)
        mp.setenv("LONGHAUL_OPENAI_BASE_URL", sim.url)
        get_settings.cache_clear()
        try:
            with TestClient(create_app(), raise_server_exceptions=False) as client:
                yield client
        finally:
            get_settings.cache_clear()
    get_settings.cache_clear()


def _cases(doc: dict[str, Any], key: str, job_id: str) -> list[Case]:
    tenant = {"Authorization": f"Bearer {key}"}
    admin = {"Authorization": f"Bearer {ADMIN}"}
    known = {"response_id": job_id, "job_id": job_id}
    cases: list[Case] = []
    for template, operations in doc["paths"].items():
        if not template.startswith("/v1/") or template == "/v1/webhooks/openai":
            continue
        headers = admin if template.startswith("/v1/admin") else tenant
        for method, op in operations.items():
            params = op.get("parameters", [])
            names = re.findall(r"{(\w+)}", template)

            def url(
                overrides: dict[str, str],
                query: str = "",
                template: str = template,
                names: list[str] = names,
            ) -> str:
                path = template
                for name in names:
                    path = path.replace(f"{{{name}}}", overrides.get(name, known.get(name, "x_1")))
                return path + (f"?{query}" if query else "")

            label = f"{method.upper()} {template}"
            json_headers = {**headers, "Content-Type": "application/json"}
            has_body = "requestBody" in op
            valid, field_cases = FIELD_CASES.get(template, ({}, []))
            body = json.dumps(valid).encode() if has_body else None
            for name in names:
                for bad in BAD_PATH:
                    cases.append(
                        Case(method, url({name: bad}), json_headers, body, f"{label} {name}={bad}")
                    )
            for p in params:
                if p.get("in") != "query":
                    continue
                for bad in BAD_QUERY:
                    cases.append(
                        Case(method, url({}, f"{p['name']}={bad}"), json_headers, body, label)
                    )
            cases.append(Case(method, url({}, "%00=1&a%00=b"), json_headers, body, label))
            if not has_body:
                continue
            for raw in RAW_BODIES:
                cases.append(Case(method, url({}), json_headers, raw, f"{label} {raw[:40]!r}"))
            for change in field_cases:
                merged = json.dumps({**valid, **change}).encode()
                cases.append(Case(method, url({}), json_headers, merged, f"{label} {change}"[:200]))
    statuses = ",".join(["a"] * 30000)  # as many as a URL holds (httpx: 64 KiB)
    cases += [
        Case("GET", f"/v1/jobs?status={statuses}", tenant, what="GET /v1/jobs 30,000 statuses"),
        Case("GET", "/v1/jobs?status=nope", tenant, what="GET /v1/jobs unknown status"),
        Case("GET", "/v1/jobs?metadata[%00]=x", tenant, what="metadata key NUL"),
        Case("GET", "/v1/jobs?metadata[a]=%00", tenant, what="metadata value NUL"),
        Case("GET", "/v1/jobs?metadata[a]=" + "x" * 5000, tenant, what="metadata long"),
        Case("GET", "/v1/usage?end=9999-12-31", tenant, what="usage end=9999-12-31"),
        Case("GET", "/v1/usage?start=0001-01-01", tenant, what="usage start=0001-01-01"),
        Case("GET", "/v1/usage?start=2026-02-01&end=2026-01-01", tenant, what="usage reversed"),
        Case("GET", "/v1/usage?group_by=%00", tenant, what="usage group_by NUL"),
    ]
    for payload in INBOUND:
        raw = json.dumps(payload)
        signed = sign(SECRET, f"wh_{uuid.uuid4().hex}", time.time(), raw)
        cases.append(
            Case(
                "POST",
                "/v1/webhooks/openai",
                {**signed, "Content-Type": "application/json"},
                raw.encode(),
                f"inbound {raw[:60]}",
            )
        )
    return cases


def test_no_malformed_request_gets_a_5xx(
    api: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(get_settings().database_url) as session:
        key = create_api_key(session, tenant_name=f"malformed-{uuid.uuid4().hex[:8]}")
        job_id = add_job(session, tenant_for_key(session, key).id, status="completed").id
    cases = _cases(api.get("/openapi.json").json(), key, job_id)
    failures, by_status = [], {}  # type: ignore[var-annotated]
    for case in cases:
        reply = api.request(case.method, case.url, headers=case.headers, content=case.body)
        by_status[reply.status_code] = by_status.get(reply.status_code, 0) + 1
        problem = None
        if reply.status_code >= 500 or reply.status_code == 422:
            problem = f"{reply.status_code}: {reply.text[:200]}"
        elif reply.status_code >= 400:
            try:
                error = reply.json()["error"]
                assert set(error) == {"message", "type", "param", "code"} and error["message"]
            except Exception:
                problem = f"{reply.status_code} not in OpenAI's error shape: {reply.text[:200]}"
        if problem:
            failures.append(f"{case.what or case.method + ' ' + case.url[:80]} -> {problem}")
    with capsys.disabled():
        print(f"\nmalformed requests: {len(cases)} cases, statuses {sorted(by_status.items())}")
    assert len(cases) >= 300
    assert not failures, f"{len(failures)} of {len(cases)} failed:\n" + "\n".join(failures[:80])


def test_viewer_pages_get_no_5xx(api: TestClient) -> None:
    """The viewer (``/ui``) signed in, with the same odd query and path values."""
    from longhaul.api.ui.web import LOGIN_COOKIE

    with session_scope(get_settings().database_url) as session:
        key = create_api_key(session, tenant_name=f"viewer-{uuid.uuid4().hex[:8]}")
    api.get("/ui/login")
    signed = api.post(
        "/ui/login",
        data={"key": key, "csrf": api.cookies.get(LOGIN_COOKIE)},
        follow_redirects=False,
    )
    assert signed.status_code in (302, 303), signed.text
    urls = [
        f"{page}?{name}={bad}"
        for page in ("/ui/jobs", "/ui/jobs.json", "/ui/usage", "/ui/usage.csv")
        for name in ("status", "model", "from", "to", "start", "end", "page", "sort", "dir", "q")
        for bad in [*BAD_QUERY, "99999999999999999999"]
    ]
    urls += [
        f"/ui/jobs/{bad}{tail}"
        for bad in BAD_PATH
        for tail in ("", "/raw.json", "/live.json", "/files/a%00", "/files/x/preview")
    ]
    failures = []
    for url in urls:
        reply = api.get(url)
        if reply.status_code >= 500:
            failures.append(f"{url[:80]} -> {reply.status_code}")
    assert len(urls) >= 500
    assert not failures, "\n".join(failures[:40])

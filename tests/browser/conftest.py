"""Browser tests of the viewer: one Chromium and one stack (simulator, API, worker, beat) for
the whole package, a handful of jobs of each kind submitted through the official SDK.

Chromium comes from the machine (Debian's ``chromium`` package; ``.ci/run`` installs it):
``LONGHAUL_CHROMIUM`` if set, else the usual names on PATH. Without one these tests skip, saying
so; CI always has one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import openai
import pytest

from longhaul.cli.receiver import WebhookReceiver
from longhaul.simulator import start_simulator
from tests.support.stack import Stack, running_stack, wait_for

ADMIN_KEY = "lh_admin_" + uuid.uuid4().hex
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)> [go](javascript:alert(3))"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    explicit = os.environ.get("LONGHAUL_CHROMIUM")
    if explicit:
        return explicit
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Demo:
    """The jobs the tests look at, by kind, and the keys to look with."""

    url: str
    key: str
    other_key: str
    jobs: dict[str, str] = field(default_factory=dict)
    stack: Stack | None = None
    receiver: WebhookReceiver | None = None


SAMPLES: dict[str, dict[str, Any]] = {
    "reasoning": {
        "model": "o4-mini",
        "reasoning": {"effort": "medium", "summary": "auto"},
        "input": "How long is a trip from 09:40 to 13:05?",
    },
    "web-search": {
        "model": "gpt-4.1",
        "tools": [{"type": "web_search"}],
        "input": "What changed in the latest PostgreSQL release? Cite sources.",
    },
    "image": {
        "model": "gpt-4.1",
        "tools": [{"type": "image_generation", "size": "1024x1024"}],
        "input": "Draw a lighthouse at dusk.",
    },
    "code": {
        "model": "gpt-4.1",
        "tools": [{"type": "code_interpreter", "container": {"type": "auto"}}],
        "input": "Make a CSV of signups, plot it and describe the trend.",
        "metadata": {"longhaul_sim": "files:3"},
    },
    "xss": {"model": "o4-mini", "tools": [{"type": "web_search"}], "input": XSS},
}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "no Chromium on this machine: `apt-get install chromium` (Debian) or set "
            "LONGHAUL_CHROMIUM=/path/to/chrome; .ci/run installs it"
        )
    return path


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="package")
def demo(database_url: str, redis_url: str) -> Iterator[Demo]:
    """The stack with the demo's kinds of jobs, all finished, each with a webhook delivery."""
    from longhaul.core.auth import create_api_key
    from longhaul.core.costs.budgets import set_budget
    from longhaul.core.db import session_scope

    name = f"viewer-{uuid.uuid4().hex[:8]}"
    with session_scope(database_url) as session:
        key = create_api_key(session, tenant_name=name)
        other = create_api_key(session, tenant_name=f"viewer-other-{uuid.uuid4().hex[:8]}")
        set_budget(session, tenant_name=name, usd=Decimal("1"))  # the usage page's gauge
    own_redis = redis_url.rsplit("/", 1)[0] + "/7"  # apart from other stacks' queues
    with (
        start_simulator(queued_seconds=0.2, run_seconds=1.0) as sim,
        running_stack(
            database_url,
            own_redis,
            sim.url,
            # the $1 budget is for the usage page's gauge, not to hold the samples' maximum costs
            extra_env={"LONGHAUL_ADMIN_API_KEY": ADMIN_KEY, "LONGHAUL_BUDGET_MODE": "spent-only"},
        ) as stack,
    ):
        receiver = WebhookReceiver().start()
        try:
            client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=key, max_retries=0)
            found = Demo(
                url=stack.api_url, key=key, other_key=other, stack=stack, receiver=receiver
            )
            for name, body in SAMPLES.items():
                body = dict(body)
                metadata = {"demo": name, **body.pop("metadata", {})}
                response = client.responses.create(
                    **body,
                    background=True,
                    metadata=metadata,
                    extra_body={"webhook": {"url": receiver.url}},
                )
                found.jobs[name] = response.id
            other_client = openai.OpenAI(
                base_url=f"{stack.api_url}/v1", api_key=other, max_retries=0
            )
            found.jobs["other-tenant"] = other_client.responses.create(
                model="gpt-4.1", input="another tenant's job", background=True
            ).id
            ids = [found.jobs[n] for n in SAMPLES]
            wait_for(lambda: stack.all_completed(key, ids), timeout=120, what="demo jobs")
            wait_for(lambda: all(receiver.for_job(i) for i in ids), timeout=60, what="webhooks")
            yield found
        finally:
            receiver.stop()


def submit(demo: Demo, *, sim: str, text: str = "A long job") -> str:
    client = openai.OpenAI(base_url=f"{demo.url}/v1", api_key=demo.key, max_retries=0)
    return client.responses.create(
        model="gpt-4.1", input=text, background=True, metadata={"longhaul_sim": sim}
    ).id


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (own cookies) and page; console errors are collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    try:
        yield pg
    finally:
        context.close()


def sign_in(page: Any, demo: Demo, key: str | None = None) -> None:
    page.goto(f"{demo.url}/ui/jobs")
    assert "/ui/login" in page.url
    page.fill("#key", key or demo.key)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/jobs")

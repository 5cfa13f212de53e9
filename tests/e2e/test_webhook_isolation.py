"""Work classes are isolated: receivers that hang cost webhook slots only. With 8 receivers each
holding a delivery open, other jobs are still submitted, polled and finalized, and complete while
every one of those POSTs is still held (the stack runs the two workers `longhaul up` runs: jobs
and webhooks). With one worker serving every queue, its slots sit in the hanging POSTs and the
other jobs wait for them. The latency figures are in bench/webhook_isolation.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support.receivers import receivers
from tests.support.stack import Stack, running_stack, wait_for

pytestmark = pytest.mark.e2e
HANGING = 8
OTHERS = 6


@pytest.fixture(scope="module")
def database_url(pg_server_url: str) -> Iterator[str]:
    """Its own database: due jobs other modules left must not share these workers."""
    from longhaul.core import migrate
    from tests.support.infra import fresh_database

    with fresh_database(pg_server_url) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="module")
def stack(database_url: str, redis_url: str, simulator: Any) -> Iterator[Stack]:
    # The sender must not give up on a hanging receiver while the test runs.
    extra = {"LONGHAUL_WEBHOOK_READ_TIMEOUT": "120"}
    with running_stack(database_url, redis_url, simulator.url, extra_env=extra) as st:
        yield st


def test_hanging_receivers_do_not_hold_back_other_jobs(
    client: openai.OpenAI, stack: Stack, api_key: str
) -> None:
    with receivers(HANGING, hang=True) as hanging:
        for i, receiver in enumerate(hanging):
            client.responses.create(
                model="gpt-5.5",
                input=f"hook {i}",
                background=True,
                extra_body={"webhook": {"url": receiver.url}},
            )
        try:
            # Two held POSTs fill a two-process worker that also serves the jobs' queues.
            wait_for(lambda: sum(r.holding for r in hanging) >= 2, 60, what="hanging POSTs")
            others = [
                client.responses.create(model="gpt-5.5", input=f"other {i}", background=True).id
                for i in range(OTHERS)
            ]
            wait_for(lambda: stack.all_completed(api_key, others), 60, what="the other jobs")
        except TimeoutError:
            print(stack.logs())
            raise
        # Nothing was released and no sender gave up: they completed beside every hanging POST.
        assert sum(r.holding for r in hanging) == HANGING
        assert sum(r.received for r in hanging) == HANGING  # one attempt each, no early retry

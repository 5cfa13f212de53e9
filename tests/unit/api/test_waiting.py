"""A waiting plain request ends its wait when its client leaves, or at its limit, and leaves
nothing behind (the job itself is not touched: it runs on)."""

from __future__ import annotations

import asyncio
from typing import Any

from longhaul.api.waiting import Waiters


class FakeRequest:
    """Only what the wait reads: the next ASGI message, here a disconnect after ``after``."""

    def __init__(self, after: float | None) -> None:
        self.after = after

    async def receive(self) -> dict[str, Any]:
        if self.after is None:
            await asyncio.Event().wait()  # never
        await asyncio.sleep(self.after or 0)
        return {"type": "http.disconnect"}


def test_a_client_that_leaves_ends_its_wait() -> None:
    waiters = Waiters()

    async def scenario() -> tuple[str, int]:
        outcome, view = await waiters.wait(FakeRequest(0.05), "resp_x", 30.0, "http://h")  # type: ignore[arg-type]
        assert view is None
        return outcome, len(waiters)

    assert asyncio.run(scenario()) == ("gone", 0)


def test_the_wait_ends_at_its_limit() -> None:
    waiters = Waiters()

    async def scenario() -> tuple[str, int]:
        outcome, _ = await waiters.wait(FakeRequest(None), "resp_y", 0.1, "http://h")  # type: ignore[arg-type]
        return outcome, len(waiters)

    assert asyncio.run(scenario()) == ("timeout", 0)

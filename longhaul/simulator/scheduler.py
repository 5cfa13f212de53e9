"""A background thread that calls back when a response reaches its terminal time.

Statuses advance with the clock on their own; this thread exists so webhooks fire at the
terminal moment even if nobody polls.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class TerminalScheduler:
    def __init__(self, on_due: Callable[[str], None]) -> None:
        self._on_due = on_due
        self._heap: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sim-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def schedule(self, when: float, response_id: str) -> None:
        if not math.isfinite(when):
            return
        with self._cond:
            heapq.heappush(self._heap, (when, response_id))
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    now = time.time()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    timeout = self._heap[0][0] - now if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, response_id = heapq.heappop(self._heap)
            try:
                self._on_due(response_id)
            except Exception:  # a bad callback must not kill the scheduler
                log.exception("terminal callback failed for %s", response_id)

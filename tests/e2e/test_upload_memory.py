"""A 50 MB upload through `/v1/files` and its download stream through the API process: its
memory stays far below the file's size (measured: resident set of the API process tree, sampled
throughout), and the bytes arrive intact."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import psutil
import pytest

from longhaul.simulator import start_simulator
from tests.support.stack import Stack, base_env

SIZE = 50 * 1024 * 1024
CHUNK = 1024 * 1024


def _rss(pid: int) -> int:
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


class PeakRss:
    """Samples the process tree's RSS on a thread until stopped; keeps the maximum."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, _rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def api(database_url: str, redis_url: str) -> Iterator[tuple[Stack, Any]]:
    with start_simulator() as sim, tempfile.TemporaryDirectory(prefix="longhaul-up-") as tmp:
        stack = Stack(env=base_env(database_url, redis_url, sim.url), workdir=Path(tmp))
        try:
            stack.start_api()
            yield stack, sim
        finally:
            stack.stop_all()


def test_a_50_mb_upload_streams_through_the_api(
    api: tuple[Stack, Any], database_url: str, tmp_path: Path
) -> None:
    from longhaul.core.auth import create_api_key
    from longhaul.core.db import session_scope

    stack, sim = api
    with session_scope(database_url) as session:
        key = create_api_key(session, tenant_name=f"upload-{tmp_path.name[-8:]}")
    client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=key, max_retries=0)
    path = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for i in range(SIZE // CHUNK):
            block = hashlib.shake_256(i.to_bytes(4, "big")).digest(CHUNK)
            digest.update(block)
            out.write(block)
    client.files.list()  # warm: the API has served a request before the baseline
    pid = stack.procs["api"].popen.pid
    baseline = _rss(pid)

    with PeakRss(pid) as up, path.open("rb") as f:
        uploaded = client.files.create(file=f, purpose="user_data")
    assert uploaded.bytes == SIZE
    assert sim.simulator.state.file(uploaded.id).blob.size == SIZE

    down = hashlib.sha256()
    with PeakRss(pid) as dl, client.files.with_streaming_response.content(uploaded.id) as r:
        for part in r.iter_bytes(CHUNK):
            down.update(part)
    assert down.hexdigest() == digest.hexdigest()

    grew = max(up.peak, dl.peak) - baseline
    print(f"API RSS baseline {baseline / 2**20:.1f} MiB, peak growth {grew / 2**20:.1f} MiB")
    assert grew < SIZE // 4, f"the API process grew by {grew / 2**20:.1f} MiB for a 50 MiB file"

"""A TCP proxy on loopback that misbehaves on purpose, for chaos runs: each new connection is
passed through, delayed, cut before anything reaches the upstream, or cut after the upstream
answered (the request was processed, the client never hears of it)."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Faults:
    """Chances per connection (the rest pass through untouched)."""

    cut_before: float = 0.0  # closed before anything is forwarded: nothing was processed
    cut_after: float = 0.0  # forwarded, the answer dropped: processed, the client never knows
    delay: float = 0.0  # forwarded after ``delay_seconds``
    delay_seconds: float = 1.5


@dataclass
class ChaosProxy:
    upstream_host: str
    upstream_port: int
    faults: Faults = field(default_factory=Faults)
    seed: int = 12
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="chaos-proxy")
        self.port = 0

    def start(self) -> ChaosProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> ChaosProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    def _pick(self) -> str:
        f, roll = self.faults, self._rng.random()
        for mode, chance in (("cut_before", f.cut_before), ("cut_after", f.cut_after),
                             ("delay", f.delay)):  # fmt: skip
            if roll < chance:
                return mode
            roll -= chance
        return "pass"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        mode = self._pick()
        self.counts[mode] += 1
        if mode == "cut_before":
            writer.transport.abort()
            return
        if mode == "delay":
            await asyncio.sleep(self.faults.delay_seconds)
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            writer.transport.abort()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, cut: bool) -> None:
            try:
                while data := await src.read(65536):
                    if cut:  # the upstream answered: the client never gets it
                        writer.transport.abort()
                        up_writer.transport.abort()
                        return
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                if not dst.is_closing():
                    dst.close()

        await asyncio.gather(
            pipe(reader, up_writer, False), pipe(up_reader, writer, mode == "cut_after")
        )

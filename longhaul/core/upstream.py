"""The upstream Responses API through the official ``openai`` SDK (errors: ``core/failures``)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import openai

from longhaul.core.config import Settings, get_settings
from longhaul.core.upstreams.spec import SIMULATOR_KEY as SIMULATOR_KEY
from longhaul.core.upstreams.spec import UpstreamSpec, default_spec, make_async_client
from longhaul.core.upstreams.spec import make_client as make_spec_client


def make_client(settings: Settings, spec: UpstreamSpec | None = None) -> openai.OpenAI:
    """SDK retries are off: Longhaul retries itself, durably, from the database."""
    return make_spec_client(spec or default_spec(settings))


_clients: dict[tuple[int, int, str], openai.OpenAI] = {}


def get_client(spec: UpstreamSpec | None = None) -> openai.OpenAI:
    """One client (one connection pool) per process, settings and upstream (``spec``; default:
    the environment's), never one per job; never shared across fork."""
    settings = get_settings()
    spec = spec or default_spec(settings)
    key = (os.getpid(), id(settings), spec.key)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = make_client(settings, spec)
    return client


T = TypeVar("T")


class AsyncUpstream:
    """One event loop on a daemon thread, and one ``AsyncOpenAI`` client per upstream bound to
    it, per process: sync code (a Celery task) hands it coroutines, so many upstream calls wait
    at once on one connection pool per upstream instead of one per worker process."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="longhaul-upstream", daemon=True
        )
        self._thread.start()
        self._default = default_spec(settings)
        self._clients: dict[str, openai.AsyncOpenAI] = {}
        self._lock = threading.Lock()
        self.client = self.client_for(self._default)

    def client_for(self, spec: UpstreamSpec) -> openai.AsyncOpenAI:
        with self._lock:
            client = self._clients.get(spec.key)
            if client is None:
                client = self._clients[spec.key] = make_async_client(spec)
            return client

    def run(self, work: Callable[[openai.AsyncOpenAI], Awaitable[T]]) -> T:
        """``work`` gets the environment upstream's client (others: ``client_for``)."""

        async def call() -> T:
            return await work(self.client)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result()


_async: dict[tuple[int, int], AsyncUpstream] = {}
_async_lock = threading.Lock()


def get_async_upstream() -> AsyncUpstream:
    """Like ``get_client``: one per process (threads and sockets do not survive ``fork``)."""
    settings = get_settings()
    key = (os.getpid(), id(settings))
    with _async_lock:
        if key not in _async:
            _async[key] = AsyncUpstream(settings)
        return _async[key]


@dataclass
class RawResult:
    body: dict[str, Any]
    headers: dict[str, str]


def _raw(response: Any) -> RawResult:
    return RawResult(
        body=json.loads(response.text), headers={k.lower(): v for k, v in response.headers.items()}
    )


def create(client: openai.OpenAI, body: dict[str, Any]) -> RawResult:
    """Send a create body verbatim: every field travels in ``extra_body`` untouched."""
    rest = dict(body)
    model = rest.pop("model")
    return _raw(client.responses.with_raw_response.create(model=model, extra_body=rest))


def retrieve(client: openai.OpenAI, response_id: str) -> RawResult:
    return _raw(client.responses.with_raw_response.retrieve(response_id))


def cancel(client: openai.OpenAI, response_id: str) -> RawResult:
    return _raw(client.responses.with_raw_response.cancel(response_id))


def input_items(
    client: openai.OpenAI, response_id: str, *, after: str | None, limit: int, order: str
) -> RawResult:
    """A page of the response's input items as the upstream sent it."""
    raw = client.responses.input_items.with_raw_response.list(
        response_id,
        after=after or openai.omit,
        limit=limit,
        order="asc" if order == "asc" else "desc",
    )
    return _raw(raw)


async def acreate(client: openai.AsyncOpenAI, body: dict[str, Any]) -> RawResult:
    rest = dict(body)
    model = rest.pop("model")
    return _raw(await client.responses.with_raw_response.create(model=model, extra_body=rest))


async def aretrieve(client: openai.AsyncOpenAI, response_id: str) -> RawResult:
    return _raw(await client.responses.with_raw_response.retrieve(response_id))


async def acancel(client: openai.AsyncOpenAI, response_id: str) -> RawResult:
    return _raw(await client.responses.with_raw_response.cancel(response_id))

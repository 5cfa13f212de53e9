"""Slow clients against the real API process on real sockets: bodies that trickle in (a create and
a streamed upload announcing 1000 bytes and sending 10) hold nothing another tenant needs, and are
cut with a 408 in OpenAI's error shape after ``LONGHAUL_BODY_READ_TIMEOUT``."""

from __future__ import annotations

import json
import select
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from longhaul.simulator import start_simulator
from tests.support.stack import Stack, base_env

TRICKLES = 25  # of each kind; the API has 4 threads and connections (below)
TIMEOUT = 10  # LONGHAUL_BODY_READ_TIMEOUT


@pytest.fixture(scope="module")
def api(database_url: str, redis_url: str) -> Iterator[str]:
    with start_simulator() as sim, tempfile.TemporaryDirectory(prefix="longhaul-slow-") as tmp:
        env = {
            **base_env(database_url, redis_url, sim.url),
            "LONGHAUL_BODY_READ_TIMEOUT": str(TIMEOUT),
            "LONGHAUL_API_THREADS": "4",
        }
        stack = Stack(env=env, workdir=Path(tmp))
        try:
            stack.start_api()
            yield stack.api_url
        finally:
            stack.stop_all()


def _key(database_url: str, prefix: str) -> str:
    from longhaul.core.auth import create_api_key
    from longhaul.core.db import session_scope

    with session_scope(database_url) as session:
        return create_api_key(session, tenant_name=f"{prefix}-{uuid.uuid4().hex[:8]}")


def _trickle(url: str, path: str, key: str, content_type: str) -> socket.socket:
    """Headers announcing 1000 bytes, then 10 of them, then nothing."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b"0123456789")
    return sock


def _reply(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, object]]:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_trickling_bodies_do_not_delay_another_tenant(api: str, database_url: str) -> None:
    slow, other = _key(database_url, "slow"), _key(database_url, "reader")
    httpx.get(f"{api}/v1/jobs", headers={"Authorization": f"Bearer {slow}"}).raise_for_status()
    sockets = [
        _trickle(api, "/v1/responses", slow, "application/json") for _ in range(TRICKLES)
    ] + [
        _trickle(api, "/v1/files", slow, "multipart/form-data; boundary=x") for _ in range(TRICKLES)
    ]
    try:
        # Another tenant reads while every trickling body is pending.
        reply = httpx.get(
            f"{api}/v1/jobs", headers={"Authorization": f"Bearer {other}"}, timeout=60
        )
        assert reply.status_code == 200, reply.text
        answered, _, _ = select.select(sockets, [], [], 0)
        assert answered == [], "the read waited until the slow bodies were cut"
        # Then each slow body is cut with a 408 in OpenAI's shape, and its connection closed.
        for sock in sockets:
            status, headers, body = _reply(sock)
            assert status == 408, body
            assert headers.get("connection") == "close"
            error = body["error"]
            assert isinstance(error, dict) and error["code"] == "request_timeout"
            assert set(error) == {"message", "type", "param", "code"}
    finally:
        for sock in sockets:
            sock.close()
    # The API still serves both tenants.
    for key in (slow, other):
        assert httpx.get(f"{api}/v1/jobs", headers={"Authorization": f"Bearer {key}"}).is_success

"""A real S3 HTTP endpoint for tests: moto's server mode on 127.0.0.1 and a free port."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from longhaul.core.storage.factory import s3_client
from tests.support.infra import free_port, wait_for_port

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


@dataclass
class S3Endpoint:
    url: str

    def client(self) -> Any:
        return s3_client(
            endpoint_url=self.url,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
        )

    def new_bucket(self) -> str:
        name = f"longhaul-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


@contextmanager
def moto_s3() -> Iterator[S3Endpoint]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        wait_for_port("127.0.0.1", port)
        yield S3Endpoint(f"http://127.0.0.1:{port}")
    finally:
        server.stop()

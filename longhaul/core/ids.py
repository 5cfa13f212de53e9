"""Identifier formats. Job ids look like response ids so the OpenAI SDK is at home with them."""

from __future__ import annotations

import secrets

JOB_PREFIX = "resp_lh_"


def new_id(prefix: str, nbytes: int = 12) -> str:
    return f"{prefix}{secrets.token_hex(nbytes)}"


def new_job_id() -> str:
    return new_id(JOB_PREFIX, 16)


def is_job_id(value: str) -> bool:
    return value.startswith(JOB_PREFIX)

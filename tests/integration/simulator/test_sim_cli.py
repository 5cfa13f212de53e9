"""``python -m longhaul.simulator`` prints its URL, serves, honours env vars, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import openai


def test_cli_prints_url_and_serves() -> None:
    env = {**os.environ, "LONGHAUL_SIM_POLL_AFTER_MS": "777", "LONGHAUL_SIM_RUN_SECONDS": "5"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "longhaul.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--queued-seconds",
            "0",
        ],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = json.loads(line)["url"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        client = openai.OpenAI(base_url=url, api_key="k", max_retries=0)
        created = client.responses.create(model="gpt-5.5", input="hi", background=True)
        raw = client.responses.with_raw_response.retrieve(created.id)
        assert raw.headers["openai-poll-after-ms"] == "777"
        assert raw.parse().status == "in_progress"  # env run_seconds=5, flag queued=0
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0

"""OpenAI-style outbound webhooks: thin ``response.*`` events signed Standard-Webhooks-style.

The payload carries only the response id (as OpenAI's does); receivers must GET the response.
``openai.OpenAI(webhook_secret=...).webhooks.unwrap(body, headers)`` accepts what we send.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

log = logging.getLogger(__name__)

EVENT_TYPES = {
    "completed": "response.completed",
    "failed": "response.failed",
    "cancelled": "response.cancelled",
    "incomplete": "response.incomplete",
}


def build_event(status: str, response_id: str, now: float) -> dict[str, Any]:
    return {
        "id": f"evt_{secrets.token_hex(16)}",
        "object": "event",
        "type": EVENT_TYPES[status],
        "created_at": int(now),
        "data": {"id": response_id},
    }


def sign(secret: str, event_id: str, timestamp: float, body: str) -> dict[str, str]:
    """Standard Webhooks headers for ``body`` (``webhook-signature: v1,<b64 HMAC-SHA256>``)."""
    ts = datetime.fromtimestamp(int(timestamp), tz=UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": Webhook(secret).sign(event_id, ts, body),
    }


class WebhookSender:
    """Delivers events from a small thread pool with bounded retries (backoff 0.5 s, 1 s, ...)."""

    def __init__(
        self,
        url: str,
        secret: str | None,
        *,
        attempts: int = 3,
        timeout: float = 5.0,
        on_result: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.url = url
        self.secret = secret
        self.attempts = max(1, attempts)
        self.timeout = timeout
        self.on_result = on_result
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sim-webhook")

    def send(self, response_id: str, event: dict[str, Any]) -> None:
        self._pool.submit(self._deliver, response_id, event)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _deliver(self, response_id: str, event: dict[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":"))
        result: dict[str, Any] = {"event_id": event["id"], "type": event["type"], "attempts": 0}
        for attempt in range(self.attempts):
            result["attempts"] = attempt + 1
            headers = {"content-type": "application/json", "user-agent": "longhaul-simulator"}
            if self.secret:
                headers.update(sign(self.secret, event["id"], time.time(), body))
            request = urllib.request.Request(
                self.url, data=body.encode(), headers=headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                    result["status_code"] = reply.status
                    if 200 <= reply.status < 300:
                        result["delivered"] = True
                        break
            except urllib.error.HTTPError as exc:
                result["status_code"] = exc.code
            except OSError as exc:
                result["error"] = str(exc)
            if attempt + 1 < self.attempts:
                time.sleep(0.5 * 2**attempt)
        result.setdefault("delivered", False)
        if not result["delivered"]:
            log.warning("webhook %s for %s not delivered", event["type"], response_id)
        if self.on_result is not None:
            self.on_result(response_id, result)

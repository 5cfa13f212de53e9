"""Receivers, per origin (scheme://host:port): how many deliveries may be out to one at once, and
a circuit breaker, so that a dead or hanging receiver costs the webhook workers little.

- **Concurrency.** A claimed delivery is leased (``lease_until``) until its attempt ends; at most
  ``LONGHAUL_WEBHOOK_DESTINATION_CONCURRENCY`` leased deliveries per origin. Everything that hands
  out deliveries claims through ``claim`` (the delivery tick, finalize's immediate send, a
  redelivery), so the bound holds whoever sends. An attempt that got an answer hands its slot
  on at once (the next due delivery to the same origin), so a busy receiver is not held to one
  round per tick.
- **Circuit.** An attempt that cost time or said the receiver is in trouble (no answer, a
  timeout, 408, 429, 5xx) counts a failure; ``LONGHAUL_WEBHOOK_CIRCUIT_FAILURES`` in a row open the
  origin's circuit for ``LONGHAUL_WEBHOOK_CIRCUIT_SECONDS``, doubled per further failure (at most
  10 minutes). While open nothing is sent there: its deliveries stay due, later than scheduled,
  never earlier. Then one probe at a time (half-open) until an attempt succeeds, which closes it.
  Any other answer (2xx, other 4xx) shows a live receiver and resets the count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from longhaul.core.config import Settings, get_settings
from longhaul.core.failures import Failure

MAX_OPEN_SECONDS = 600.0
# scheme://[userinfo@]host[:port], lower-cased: one receiver.
_ORIGIN = r"lower(substring({url} from '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*'))"


def origin_sql(column: str) -> str:
    return _ORIGIN.format(url=column)


# Free, or its lease ran out and its message cannot still be waiting in the queue: it was sent
# (at lease_until - lease) before ``horizon``, the send time of the oldest message still there
# (Redis lists are FIFO; core/jobs/sweep.py reasons the same way). A second message for a
# delivery whose first still waits behind others would only be a task that finds nothing to do.
_RECLAIMABLE = """(d.lease_until IS NULL OR (d.lease_until < :now
    AND d.lease_until - make_interval(secs => :lease_s) < :horizon))"""

_CLAIM = f"""
WITH due AS (
    SELECT d.id, d.next_attempt_at, {origin_sql("d.url")} AS origin
    FROM webhook_deliveries d
    {{job_join}}
    WHERE d.status = 'pending' AND d.next_attempt_at <= :now {{origin_filter}}
      AND {_RECLAIMABLE}
),
busy AS (
    SELECT {origin_sql("url")} AS origin, count(*) AS n
    FROM webhook_deliveries
    WHERE status = 'pending' AND lease_until >= :now
      AND {origin_sql("url")} IN (SELECT origin FROM due)
    GROUP BY 1
),
ranked AS (
    SELECT due.id, due.next_attempt_at,
           row_number() OVER (PARTITION BY due.origin ORDER BY due.next_attempt_at, due.id) AS rn,
           CASE WHEN coalesce(w.failures, 0) >= :threshold THEN 1 ELSE :cap END
             - coalesce(busy.n, 0) AS room
    FROM due
    LEFT JOIN webhook_destinations w ON w.origin = due.origin
    LEFT JOIN busy ON busy.origin = due.origin
    WHERE w.open_until IS NULL OR w.open_until <= :now
),
picked AS (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.id IN (
        SELECT id FROM ranked WHERE rn <= room ORDER BY next_attempt_at LIMIT :limit
    )
      AND d.status = 'pending' AND {_RECLAIMABLE}
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries SET lease_until = :lease_until
WHERE id IN (SELECT id FROM picked)
RETURNING id, next_attempt_at
"""


def claim(
    session: Session,
    now: datetime,
    *,
    job_id: str | None = None,
    same_origin_as: str | None = None,
    horizon: datetime | None = None,
    limit: int | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """Lease due deliveries (all, one job's, or those to the origin of the URL
    ``same_origin_as``), at most what each origin has room for and none to an open circuit;
    oldest first. A delivery whose lease ran out is claimed again only if its message was sent
    before ``horizon`` (default now: the queue is taken as empty). Returns their ids; the caller
    sends one ``deliver`` each after its commit. Flush only."""
    s = settings or get_settings()
    job_join = "JOIN webhook_events e ON e.id = d.event_id AND e.job_id = :job_id" if job_id else ""
    origin_filter = (
        f"AND {origin_sql('d.url')} = {origin_sql(':origin_url')}" if same_origin_as else ""
    )
    params = {
        "now": now,
        "threshold": s.webhook_circuit_failures,
        "cap": s.webhook_destination_concurrency,
        "limit": limit or s.sweep_batch_size,
        "lease_until": now + timedelta(seconds=s.lease_seconds),
        "lease_s": float(s.lease_seconds),
        "horizon": min(horizon or now, now),
    }
    if job_id:
        params["job_id"] = job_id
    if same_origin_as:
        params["origin_url"] = same_origin_as
    session.flush()
    sql = _CLAIM.format(job_join=job_join, origin_filter=origin_filter)
    rows = session.execute(text(sql), params).all()
    return [r.id for r in sorted(rows, key=lambda r: (r.next_attempt_at, r.id))]


def costly(failure: Failure | None) -> bool:
    """Did this attempt's outcome say the receiver is down or struggling?"""
    if failure is None:
        return False
    if failure.status is None:  # transport: no answer, timed out, reset (not an SSRF refusal)
        return failure.kind == "transient"
    return failure.status >= 500 or failure.status in (408, 429)


_FAILED = f"""
INSERT INTO webhook_destinations (origin, failures, open_until, updated_at)
VALUES ({origin_sql(":url")}, 1, CASE WHEN 1 >= :threshold THEN :first_open END, :now)
ON CONFLICT (origin) DO UPDATE SET
    failures = webhook_destinations.failures + 1,
    open_until = CASE WHEN webhook_destinations.failures + 1 >= :threshold
        THEN :now + make_interval(secs => least(
            :base * power(2, webhook_destinations.failures + 1 - :threshold), :max_open))
        END,
    updated_at = :now
"""

_HEALTHY = f"""
UPDATE webhook_destinations SET failures = 0, open_until = NULL, updated_at = :now
WHERE origin = {origin_sql(":url")} AND (failures > 0 OR open_until IS NOT NULL)
"""


def record(
    session: Session,
    url: str,
    failure: Failure | None,
    now: datetime,
    *,
    settings: Settings | None = None,
) -> None:
    """Count the attempt's outcome against its receiver. Flush only."""
    s = settings or get_settings()
    if costly(failure):
        first = min(s.webhook_circuit_seconds, MAX_OPEN_SECONDS)
        session.execute(
            text(_FAILED),
            {
                "url": url,
                "now": now,
                "threshold": s.webhook_circuit_failures,
                "first_open": now + timedelta(seconds=first),
                "base": s.webhook_circuit_seconds,
                "max_open": MAX_OPEN_SECONDS,
            },
        )
    elif failure is None or failure.status is not None:  # answered: the receiver is alive
        session.execute(text(_HEALTHY), {"url": url, "now": now})

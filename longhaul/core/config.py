"""Settings: one pydantic-settings class, env prefix ``LONGHAUL_``, ``.env`` supported."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_WEBHOOK_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


class Settings(BaseSettings):
    """Every Longhaul setting. The README's configuration table lists them all."""

    model_config = SettingsConfigDict(env_prefix="LONGHAUL_", env_file=".env", extra="ignore")

    # Infrastructure
    database_url: str = Field(
        "postgresql+psycopg://postgres@127.0.0.1:5432/longhaul",
        description="SQLAlchemy URL of PostgreSQL (psycopg 3 driver).",
    )
    database_pool_size: int = Field(
        10, description="Connections per process (plus as many overflow)."
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Redis URL of the Celery broker."
    )
    data_dir: Path = Field(Path(".longhaul"), description="Folder for the embedded stack's data.")

    # Upstream
    openai_api_key: str | None = Field(None, description="Upstream API key; unset = simulator.")
    openai_base_url: str | None = Field(None, description="Upstream base URL (default OpenAI).")
    openai_webhook_secret: str | None = Field(None, description="Secret for inbound webhooks.")
    upstream_timeout_seconds: float = Field(30.0, description="Per-request upstream timeout.")
    secret_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Fernet keys (comma list) encrypting stored upstream secrets; the first "
        "encrypts, all decrypt (rotation).",
    )

    # Intake
    api_host: str = Field("127.0.0.1", description="Address the API binds to.")
    api_port: int = Field(8000, description="Port the API binds to.")
    max_body_bytes: int = Field(4 * 1024 * 1024, description="Largest accepted request body.")
    upload_max_bytes: int = Field(
        512 * 1024**2, description="Largest file uploaded through `/v1/files` (streamed)."
    )
    body_read_timeout: float = Field(
        15.0,
        gt=0,
        description="Seconds a request body may take to arrive (uploads: between chunks); "
        "then 408.",
    )
    admin_api_key: str | None = Field(None, description="Key with cross-tenant read access.")
    public_url: str | None = Field(
        None, description="External base URL of the API, for links in webhooks (default: request)."
    )
    ui_session_seconds: int = Field(
        12 * 3600, description="Lifetime of a viewer (`/ui`) sign-in session."
    )
    api_threads: int = Field(
        16,
        description="Threads doing database work per API process; its pool keeps as many "
        "connections (no overflow).",
    )
    api_opentelemetry: bool = Field(
        False,
        description="FastAPI's own OpenTelemetry spans, metrics and logs for the API, sent "
        "through the globally configured providers (e.g. under `opentelemetry-instrument`). "
        "Off, no request looks the providers up.",
    )
    api_queue_seconds: float = Field(
        5.0, description="Longest wait for an API thread before a 503 with Retry-After."
    )
    api_queue_limit: int = Field(
        1000, description="Requests waiting for an API thread before new ones get a 503."
    )
    max_active_jobs: int = Field(
        0,
        ge=0,
        description="Most active (not yet finished) jobs per tenant; a create past it gets "
        "429 too_many_active_jobs. 0 = off.",
    )
    rate_limit_per_second: int = Field(
        100,
        ge=0,
        description="Requests per second per API key, shared by all API processes "
        "(Redis); then 429. 0 = off.",
    )
    auth_failures_per_minute: int = Field(
        30,
        ge=0,
        description="Failed authentications per client address per minute before "
        "unknown keys from it get 429. 0 = off.",
    )
    redeliver_per_hour: int = Field(
        10, ge=0, description="Webhook redeliveries per job per hour. 0 = off."
    )
    auth_cache_seconds: float = Field(
        5.0, description="How long a key's tenant is reused (revocation takes effect within it)."
    )

    # Logs
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object per line, with job id, tenant, step."
    )
    log_level: str = Field("INFO", description="Log level of every process.")

    # Broker / Celery
    visibility_timeout: int = Field(3600, description="Redis visibility timeout (s), everywhere.")
    worker_concurrency: int = Field(2, description="Worker processes per `longhaul worker`.")
    worker_metrics_port: int = Field(
        9808, description="Port of each worker's Prometheus /metrics (0 = off)."
    )

    # Scheduling
    sweep_interval_seconds: float = Field(1.0, description="Due-poll sweep period.")
    reconcile_interval_seconds: float = Field(15.0, description="Reconciler period.")
    lease_seconds: int = Field(60, description="How long a claimed job is owned by one task.")
    poll_initial_seconds: float = Field(2.0, description="First poll delay after submit.")
    poll_max_seconds: float = Field(60.0, description="Cap on the poll interval.")
    poll_backoff_factor: float = Field(2.0, description="Growth of the poll interval per poll.")
    poll_webhook_seconds: float = Field(
        300.0, description="Poll interval after the first when inbound webhooks are configured."
    )
    poll_batch_size: int = Field(100, description="Due jobs one poll task retrieves concurrently.")
    poll_queue_batches: int = Field(4, description="Most poll tasks waiting in the poll queue.")
    submit_batch_size: int = Field(
        20, description="Queued jobs one submit task creates upstream concurrently."
    )
    submit_queue_batches: int = Field(4, description="Most submit tasks waiting in their queue.")
    finalize_batch_size: int = Field(
        20, description="Finalizing jobs one finalize task ends in one transaction."
    )
    finalize_queue_batches: int = Field(
        4, description="Most finalize batch tasks the sweep keeps waiting in their queue."
    )
    dispatch_queue_target: int = Field(
        100, description="Most single-job messages the sweep keeps waiting in a queue (cancels)."
    )
    job_deadline_seconds: int = Field(6 * 3600, description="Default deadline of a job.")
    submit_max_attempts: int = Field(8, description="Create attempts before a job fails.")
    retry_base_seconds: float = Field(2.0, description="Backoff base for transient errors.")
    retry_max_seconds: float = Field(300.0, description="Backoff cap for transient errors.")
    sweep_batch_size: int = Field(1000, description="Most rows one sweep reserves.")

    # Artifacts
    storage_url: str = Field("file://.longhaul/artifacts", description="file:///path or s3://b/p")
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, R2).")
    s3_public_endpoint_url: str | None = Field(
        None, description="Endpoint in presigned download URLs, if users reach S3 elsewhere."
    )
    s3_region: str | None = Field(None, description="S3 region.")
    s3_access_key_id: str | None = Field(None, description="S3 access key id.")
    s3_secret_access_key: str | None = Field(None, description="S3 secret access key.")
    presign_ttl_seconds: int = Field(900, description="TTL of presigned download URLs.")
    artifact_max_bytes: int = Field(5 * 1024**3, description="Largest single artifact.")
    job_artifacts_max_bytes: int = Field(20 * 1024**3, description="Largest total per job.")
    artifact_rounds: int = Field(
        3, description="Finalize tries a failing artifact this many times before giving up."
    )
    artifact_ttl_days: int | None = Field(None, description="Delete artifacts after N days.")

    # Costs
    prices_file: Path | None = Field(None, description="Overrides for model prices and tool fees.")
    budget_mode: Literal["hold", "spent-only"] = Field(
        "hold", description="`hold`: reserve each job's maximum cost at submit; `spent-only`."
    )
    budget_hold_tool_calls: int = Field(
        20, ge=0, description="Tool calls a hold assumes when a request sets no `max_tool_calls`."
    )
    budget_alert_fractions: Annotated[tuple[float, ...], NoDecode] = Field(
        (0.5, 0.8, 1.0), description="Budget fractions that send `budget.threshold_reached`."
    )

    # Webhooks
    webhook_schedule_seconds: Annotated[tuple[float, ...], NoDecode] = Field(
        DEFAULT_WEBHOOK_SCHEDULE, description="Delay before each delivery attempt."
    )
    webhook_connect_timeout: float = Field(5.0, description="Webhook connect timeout (s).")
    webhook_read_timeout: float = Field(15.0, description="Webhook read timeout (s).")
    webhook_allow_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="CIDRs/hosts allowed despite the SSRF guard (dev/tests)."
    )
    webhook_rotation_grace_seconds: int = Field(86400, description="Old secret stays valid.")
    webhook_destination_concurrency: int = Field(
        4, ge=1, description="Deliveries in flight to one receiver (scheme, host, port) at most."
    )
    webhook_circuit_failures: int = Field(
        3, ge=1, description="Failed attempts in a row that open a receiver's circuit."
    )
    webhook_circuit_seconds: float = Field(
        30.0, description="First open period of a circuit; doubles per further failure (≤ 10 min)."
    )
    webhook_worker_concurrency: int = Field(
        16, ge=1, description="Threads of the webhook worker `longhaul up` runs."
    )

    # Streams (live progress)
    stream_all: bool = Field(
        False, description="Stream every job's events, not only `stream: true` requests."
    )
    event_retention_days: int | None = Field(
        30, description="Delete stored stream events after N days (unset: keep them)."
    )
    relay_max_streams: int = Field(2500, description="Upstream streams one relay holds at most.")
    relay_lease_seconds: int = Field(30, description="A relay owns a stream this long per renewal.")
    relay_grace_seconds: float = Field(
        30.0,
        description="A streaming job no relay created by then is submitted by a worker instead.",
    )

    # Plain (no `background`) requests: the call waits for the job
    sync_wait_seconds: float = Field(
        540.0,
        description="A plain request waits this long for its job, then answers the Response as "
        "it stands (in progress) for the client to poll (under the SDK's 600 s timeout).",
    )
    sync_poll_seconds: float = Field(
        0.5, description="How often one API process checks all its waiting jobs (one query)."
    )

    # Flower
    flower_port: int = Field(5555, description="Flower port.")
    flower_basic_auth: str = Field("admin:longhaul", description="Flower user:password.")
    flower_max_tasks: int = Field(5000, description="Tasks Flower keeps in memory.")

    @field_validator(
        "webhook_schedule_seconds",
        "webhook_allow_hosts",
        "budget_alert_fractions",
        "secret_keys",
        mode="before",
    )
    @classmethod
    def _list(cls, value: object) -> object:
        """Lists from the environment: JSON (``["a","b"]``) or comma-separated (``a,b``)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("budget_alert_fractions")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < f < 100 for f in value):
            raise ValueError("budget alert fractions must be > 0 (1 = the whole budget)")
        return tuple(sorted(set(value)))

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, value: str) -> str:
        # Accept plain postgres URLs; the psycopg 3 driver is the one installed.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""The simulator's request handling, independent of the HTTP transport.

``Simulator.handle`` maps (method, path, query, headers, body) to a ``Reply``: a JSON body, a
streamed ``Blob``, or ``drop`` (close the socket without any HTTP response, which the SDK
reports as ``APIConnectionError``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from . import render
from .blobs import Blob
from .config import SimulatorConfig
from .objects import Objects
from .outputs import FileSpec, Generated, generate, input_text, new_id, tokens
from .replies import Caller, Reply, multipart, page
from .replies import caller as _caller
from .replies import content_type as _content_type
from .replies import error as _error
from .replies import not_found as _not_found
from .scenarios import ScenarioError, parse_scenario
from .scheduler import TerminalScheduler
from .state import Container, ResponseRecord, SimState
from .streaming import Streamer, StreamRefused, query_flag
from .webhooks import WebhookSender, build_event

Query = Mapping[str, list[str]]


class Headers(Protocol):
    def get(self, name: str, default: None = None) -> str | None: ...


# Not recorded as a caller's custom headers.
_PLAIN_HEADERS = {
    "accept",
    "accept-encoding",
    "authorization",
    "api-key",
    "connection",
    "content-length",
    "content-type",
    "host",
    "user-agent",
}

AZURE_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)


def _auth_view(caller: Caller) -> dict[str, Any]:
    return {
        "scheme": caller.scheme,
        "key": caller.key,
        "api_version": caller.api_version,
        "headers": dict(caller.headers),
    }


def _visible(record: ResponseRecord | None) -> ResponseRecord | None:
    """With ``key_scoped``, objects belong to the key that created them (like OpenAI projects):
    another key gets the same 404 as an unknown id."""
    if record is None or not record.key_scoped:
        return record
    caller = _caller.get().key
    if record.api_key is None or caller is None or record.api_key == caller:
        return record
    return None


def _caller_of(headers: Headers, api_version: str | None) -> Caller:
    bearer = headers.get("Authorization") or ""
    api_key = headers.get("api-key")
    items = getattr(headers, "items", None)
    extra = {
        k.lower(): v
        for k, v in (items() if items else [])
        if k.lower() not in _PLAIN_HEADERS and not k.lower().startswith("x-stainless")
    }
    if api_key:
        return Caller(api_key, "api-key", api_version, extra)
    if bearer.lower().startswith("bearer "):
        return Caller(bearer[7:].strip(), "bearer", api_version, extra)
    return Caller(None, None, api_version, extra)


class Simulator:
    """State, lifecycle scheduler and webhook sender behind one ``handle`` entry point."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.base_url = f"http://{config.host}:{config.port}/v1"
        self.state = SimState()
        self.scheduler = TerminalScheduler(self._on_terminal)
        self.streamer = Streamer(config, self.state)
        self.objects = Objects(config, self.state)
        self.sender = (
            WebhookSender(
                config.webhook_url,
                config.webhook_secret,
                attempts=config.webhook_attempts,
                timeout=config.webhook_timeout,
                on_result=self._on_webhook_result,
            )
            if config.webhook_url
            else None
        )
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            ("POST", re.compile(r"/v1/responses"), self.create),
            ("POST", re.compile(r"/v1/responses/input_tokens"), self.count_input_tokens),
            ("GET", re.compile(r"/v1/responses/([^/]+)"), self.retrieve),
            ("DELETE", re.compile(r"/v1/responses/([^/]+)"), self.delete),
            ("POST", re.compile(r"/v1/responses/([^/]+)/cancel"), self.cancel),
            ("GET", re.compile(r"/v1/responses/([^/]+)/input_items"), self.list_input_items),
            ("GET", re.compile(r"/v1/containers/([^/]+)"), self.get_container),
            ("GET", re.compile(r"/v1/containers/([^/]+)/files"), self.list_container_files),
            ("GET", re.compile(r"/v1/containers/([^/]+)/files/([^/]+)"), self.get_container_file),
            (
                "GET",
                re.compile(r"/v1/containers/([^/]+)/files/([^/]+)/content"),
                self.container_file_content,
            ),
            ("POST", re.compile(r"/v1/files"), self.upload_file),
            ("GET", re.compile(r"/v1/files"), self.list_files),
            ("GET", re.compile(r"/v1/files/([^/]+)"), self.get_file),
            ("DELETE", re.compile(r"/v1/files/([^/]+)"), self.delete_file),
            ("GET", re.compile(r"/v1/files/([^/]+)/content"), self.file_content),
            *self.objects.routes(),
            ("GET", re.compile(r"/_sim/stats"), self.admin_stats),
            ("GET", re.compile(r"/_sim/timeline"), lambda **_: Reply(200, self.state.timeline())),
            ("GET", re.compile(r"/_sim/responses/([^/]+)"), self.admin_response),
            ("GET", re.compile(r"/_sim/responses/([^/]+)/events"), self.admin_events),
            ("POST", re.compile(r"/_sim/reset"), self.admin_reset),
            ("GET", re.compile(r"/_sim/health"), lambda **_: Reply(200, {"ok": True})),
        ]

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        self.streamer.stop()
        if self.sender is not None:
            self.sender.shutdown()

    # --- dispatch -----------------------------------------------------------------------
    def handle(self, method: str, path: str, query: Query, headers: Headers, body: bytes) -> Reply:
        path = path.rstrip("/") or "/"
        azure = path.startswith("/openai/")
        if azure:  # Azure forms: /openai/v1/… (v1 API) and /openai/… ?api-version= (dated)
            dated = not path.startswith("/openai/v1/")
            version = next(iter(query.get("api-version") or []), None)
            if dated and not version:
                return _error(
                    404,
                    "Resource not found: the dated Azure API path needs an 'api-version' "
                    "query parameter.",
                    "invalid_request_error",
                    "404",
                    "api-version",
                )
            path = "/v1/" + path[len("/openai/" if dated else "/openai/v1/") :]
            caller = _caller_of(headers, version)
            if self.config.require_auth and caller.key is None:
                return _error(401, AZURE_DENIED, "invalid_request_error", "401")
        else:
            caller = _caller_of(headers, None)
            if caller.scheme == "api-key" and not headers.get("Authorization"):
                caller = Caller(None, None, None, caller.headers)  # OpenAI ignores api-key
        token = _caller.set(caller)
        ctype = _content_type.set(headers.get("Content-Type") or "")
        try:
            return self._route(method, path, query, headers, body, azure)
        finally:
            _caller.reset(token)
            _content_type.reset(ctype)

    def _route(
        self, method: str, path: str, query: Query, headers: Headers, body: bytes, azure: bool
    ) -> Reply:
        allowed = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            allowed = True
            if route_method != method:
                continue
            needs_auth = path.startswith("/v1/") and self.config.require_auth and not azure
            if needs_auth and not headers.get("Authorization"):
                return _error(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer KEY).",
                    "invalid_request_error",
                )
            return handler(*match.groups(), query=query, body=body)
        if allowed:
            return _error(405, f"Method {method} not allowed on {path}.", "invalid_request_error")
        return _error(404, f"Invalid URL ({method} {path})", "invalid_request_error")

    # --- responses ----------------------------------------------------------------------
    def create(self, *, query: Query, body: bytes) -> Reply:
        self.state.count("create_attempt")
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "The request body is not valid JSON.", "invalid_request_error")
        if not isinstance(request, dict):
            return _error(400, "The request body must be a JSON object.", "invalid_request_error")
        metadata = request.get("metadata") or {}
        if not isinstance(metadata, dict):
            return _error(
                400, "metadata must be an object.", "invalid_request_error", None, "metadata"
            )
        try:
            scenario = parse_scenario(metadata.get("longhaul_sim"))
        except ScenarioError as exc:
            return _error(400, str(exc), "invalid_request_error", "invalid_value", "metadata")

        key = str(metadata.get("longhaul_job_id") or "body:" + hashlib.sha256(body).hexdigest())
        attempt = self.state.next_create_attempt(key)
        if scenario.quota:
            return _error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            )
        if scenario.bad_request:
            return _error(
                400,
                "Invalid request (simulated by scenario 'bad_request').",
                "invalid_request_error",
                "invalid_value",
                "input",
            )
        fault = scenario.create_fault_for(attempt)
        if fault == "create429":
            reply = _error(
                429,
                "Rate limit reached for requests (simulated). Please try again in 1s.",
                "requests",
                "rate_limit_exceeded",
            )
            reply.headers["Retry-After"] = "1"
            return reply
        if fault == "create500":
            return _error(
                500,
                "The server had an error while processing your request (simulated).",
                "server_error",
            )
        if fault == "createdrop":
            return Reply(drop=True)

        problem = self._validate(request) or self.objects.check_create(request)
        if problem is not None:
            return problem
        record = self._new_record(request, scenario, key)
        self.state.add(record, record.created)
        self.objects.after_create(record)
        self.state.count("create", record.id)
        if record.background:
            self.scheduler.schedule(record.terminal_at, record.id)
        if fault == "createdup":
            return Reply(drop=True)
        if fault == "createhang":
            return Reply(hang=True)
        if request.get("stream"):
            obfuscate = (request.get("stream_options") or {}).get("include_obfuscation", True)
            return Reply(200, stream=self.streamer.open(record, obfuscate=obfuscate is not False))
        return Reply(200, render.response_object(record, time.time()))

    def count_input_tokens(self, *, query: Query, body: bytes) -> Reply:
        """``POST /v1/responses/input_tokens``: what a create with this body would count as
        input (the same estimate the simulated usage uses, predecessor included)."""
        self.state.count("input_tokens_count")
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "The request body is not valid JSON.", "invalid_request_error")
        if not isinstance(request, dict):
            return _error(400, "The request body must be a JSON object.", "invalid_request_error")
        previous = request.get("previous_response_id")
        prior = 0
        if previous is not None:
            record = _visible(self.state.get(str(previous)))
            if record is None:
                return _error(
                    400,
                    f"Previous response with id '{previous}' not found.",
                    "invalid_request_error",
                    "previous_response_not_found",
                    "previous_response_id",
                )
            usage = record.generated.usage
            prior = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
        count = (
            tokens(input_text(request))
            + tokens(str(request.get("instructions") or ""))
            + 12 * len(request.get("tools") or [])
            + prior
            + 3
        )
        return Reply(200, {"object": "response.input_tokens", "input_tokens": count})

    def _validate(self, request: dict[str, Any]) -> Reply | None:
        if not isinstance(request.get("model"), str) or not request["model"]:
            return _error(
                400,
                "Missing required parameter: 'model'.",
                "invalid_request_error",
                "missing_required_parameter",
                "model",
            )
        previous = request.get("previous_response_id")
        if previous is not None and _visible(self.state.get(str(previous))) is None:
            return _error(
                400,
                f"Previous response with id '{previous}' not found.",
                "invalid_request_error",
                "previous_response_not_found",
                "previous_response_id",
            )
        return None

    def _new_record(self, request: dict[str, Any], scenario: Any, key: str) -> ResponseRecord:
        now = time.time()
        final = scenario.terminal
        if request.get("background"):
            queued = (
                self.config.queued_seconds
                if scenario.queued_seconds is None
                else scenario.queued_seconds
            )
            run = self.config.run_seconds if scenario.run_seconds is None else scenario.run_seconds
            queued_until, terminal_at = now + queued, now + queued + run
            if scenario.stuck:
                queued_until = terminal_at = math.inf
        else:
            queued_until = terminal_at = now
        prior = 0
        previous = self.state.get(str(request.get("previous_response_id") or ""))
        if previous is not None:
            usage = previous.generated.usage
            prior = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
        prior += self.objects.prior_tokens(request)
        if final in ("completed", "incomplete"):
            generated = generate(
                request,
                base_url=self.base_url,
                incomplete=final == "incomplete",
                files=scenario.files,
                filesize=scenario.filesize,
                prior_input_tokens=prior,
                search=self.objects.tool_search,
            )
        else:
            generated = Generated(output=[], usage={}, tool_usage={})
        return ResponseRecord(
            id=new_id("resp"),
            body=request,
            scenario=scenario,
            created=now,
            queued_until=queued_until,
            terminal_at=terminal_at,
            final_status=final,
            generated=generated,
            input_items=render.input_items(request),
            job_key=key,
            api_key=_caller.get().key,
            key_scoped=self.config.key_scoped,
            auth=_auth_view(_caller.get()),
        )

    def retrieve(self, response_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("retrieve", response_id)
        self.state.stamp_retrieve(response_id, time.time())
        record = _visible(self.state.get(response_id))
        if record is None:
            return _not_found("response", response_id)
        if query_flag(query, "stream"):
            try:
                return Reply(200, stream=self.streamer.resume(record, query))
            except StreamRefused as exc:
                return _error(400, str(exc), "invalid_request_error", exc.code, exc.param)
        if self.state.take_poll_error(record):
            return _error(
                500,
                "The server had an error while processing your request (simulated).",
                "server_error",
            )
        reply = Reply(200, render.response_object(record, time.time()))
        if self.config.poll_after_ms is not None:
            reply.headers["openai-poll-after-ms"] = str(self.config.poll_after_ms)
        return reply

    def cancel(self, response_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("cancel", response_id)
        record = _visible(self.state.get(response_id))
        if record is None:
            return _not_found("response", response_id)
        if not record.background:
            return _error(
                400,
                "Only responses created with background=true can be cancelled.",
                "invalid_request_error",
                None,
                "response_id",
            )
        now = time.time()
        if self.state.cancel(record, now):
            self.streamer.wake()
            self._on_terminal(record.id)
        return Reply(200, render.response_object(record, now))

    def delete(self, response_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("delete", response_id)
        if _visible(self.state.get(response_id)) is None or not self.state.delete(response_id):
            return _not_found("response", response_id)
        self.streamer.wake()
        return Reply(200, {"id": response_id, "object": "response.deleted", "deleted": True})

    def list_input_items(self, response_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("input_items", response_id)
        record = _visible(self.state.get(response_id))
        if record is None:
            return _not_found("response", response_id)
        return self._page(record.input_items, query, default_order="desc")

    # --- containers and files -----------------------------------------------------------
    def _container(self, container_id: str) -> Container | None:
        """A container is seen by the key that made it (or whose response made it)."""
        return self.objects.container(container_id)

    def get_container(self, container_id: str, *, query: Query, body: bytes) -> Reply:
        container = self._container(container_id)
        if container is None:
            return _not_found("container", container_id)
        return Reply(200, render.container_object(container))

    def list_container_files(self, container_id: str, *, query: Query, body: bytes) -> Reply:
        container = self._container(container_id)
        if container is None:
            return _not_found("container", container_id)
        data = [render.container_file_object(f, container) for f in container.files]
        return self._page(data, query, default_order="desc")

    def get_container_file(
        self, container_id: str, file_id: str, *, query: Query, body: bytes
    ) -> Reply:
        container = self._container(container_id)
        spec = next((f for f in container.files if f.id == file_id), None) if container else None
        if container is None or spec is None:
            return _not_found("container file", file_id)
        return Reply(200, render.container_file_object(spec, container))

    def container_file_content(
        self, container_id: str, file_id: str, *, query: Query, body: bytes
    ) -> Reply:
        self.state.count("container_file_content")
        container = self._container(container_id)
        spec = next((f for f in container.files if f.id == file_id), None) if container else None
        if spec is None:
            return _not_found("container file", file_id)
        return Reply(200, blob=spec.blob)

    def _file(self, file_id: str) -> FileSpec | None:
        """A file, unless an upload another key made (with ``key_scoped``)."""
        spec = self.state.file(file_id)
        meta = self.state.uploads.get(file_id)
        if spec is None or meta is None or not self.config.key_scoped:
            return spec
        return spec if meta["api_key"] in (None, _caller.get().key) else None

    def _file_object(self, spec: FileSpec) -> dict[str, Any]:
        meta = self.state.uploads.get(spec.id)
        view = render.file_object(spec, int(meta["created"]) if meta else int(time.time()))
        if meta is not None:
            view["purpose"] = meta["purpose"]
        return view

    def upload_file(self, *, query: Query, body: bytes) -> Reply:
        """``POST /v1/files`` (multipart: ``file`` and ``purpose``), as OpenAI."""
        self.state.count("file_upload")
        fields = multipart(_content_type.get(), body)
        if fields is None or "file" not in fields:
            return _error(
                400, "Missing required parameter: 'file'.", "invalid_request_error",
                "missing_required_parameter", "file",
            )  # fmt: skip
        if not fields.get("purpose"):
            return _error(
                400, "Missing required parameter: 'purpose'.", "invalid_request_error",
                "missing_required_parameter", "purpose",
            )  # fmt: skip
        filename, data, ctype = fields["file"]
        spec = FileSpec(new_id("file"), filename or "upload", Blob.of(data, ctype))
        purpose = fields["purpose"][1].decode(errors="replace")
        self.state.upload(spec, purpose=purpose, api_key=_caller.get().key, now=time.time())
        return Reply(200, self._file_object(spec))

    def list_files(self, *, query: Query, body: bytes) -> Reply:
        self.state.count("file_list")
        ids = list(self.state.uploads)
        data = [self._file_object(s) for i in ids if (s := self._file(i)) is not None]
        return self._page(data, query, default_order="desc")

    def delete_file(self, file_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("file_delete")
        if self._file(file_id) is None or not self.state.delete_file(file_id):
            return _not_found("file", file_id)
        return Reply(200, {"id": file_id, "object": "file", "deleted": True})

    def get_file(self, file_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("file_get")
        spec = self._file(file_id)
        if spec is None:
            return _not_found("file", file_id)
        return Reply(200, self._file_object(spec))

    def file_content(self, file_id: str, *, query: Query, body: bytes) -> Reply:
        self.state.count("file_content")
        spec = self._file(file_id)
        if spec is None:
            return _not_found("file", file_id)
        return Reply(200, blob=spec.blob)

    # --- admin --------------------------------------------------------------------------
    def admin_stats(self, *, query: Query, body: bytes) -> Reply:
        return Reply(200, self.state.stats())

    def admin_response(self, response_id: str, *, query: Query, body: bytes) -> Reply:
        record = self.state.get(response_id)
        if record is None:
            return _not_found("response", response_id)
        with self.state.lock:
            return Reply(200, record.raw(time.time()))

    def admin_events(self, response_id: str, *, query: Query, body: bytes) -> Reply:
        record = self.state.get(response_id)
        if record is None:
            return _not_found("response", response_id)
        return Reply(200, {"data": self.streamer.timeline(record)})

    def admin_reset(self, *, query: Query, body: bytes) -> Reply:
        self.scheduler.clear()
        self.state.reset()
        self.streamer.wake()
        return Reply(200, {"ok": True})

    # --- helpers ------------------------------------------------------------------------
    def _page(self, data: list[dict[str, Any]], query: Query, *, default_order: str) -> Reply:
        return page(data, query, default_order=default_order)

    def _on_terminal(self, response_id: str) -> None:
        now = time.time()
        record = self.state.finalize(response_id, now)
        if record is None or not record.background or self.sender is None:
            return
        event = build_event(record.status_at(now), record.id, now)
        self.state.count("webhook_event", record.id)
        self.sender.send(record.id, event)

    def _on_webhook_result(self, response_id: str, result: dict[str, Any]) -> None:
        self.state.count("webhook_delivered" if result.get("delivered") else "webhook_failed")
        with self.state.lock:
            record = self.state.responses.get(response_id)
            if record is not None:
                record.webhooks.append(result)

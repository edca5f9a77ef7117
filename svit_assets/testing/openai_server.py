"""A fault-injecting OpenAI-compatible server for tests and benchmarks.

Why: the LLM engine has to survive everything a real endpoint does -- rate limits, 5xx errors, timeouts,
dropped connections, truncated, filtered or malformed output, batches that expire half-way -- and the
tests need that offline, fast and reproducible. The server speaks enough of the OpenAI API (chat
completions, files, batches) for the official ``openai`` client and lets a test script the model
output and the failures.

Conventions (kept deliberately simple and deterministic):

* Token estimate: ``estimate_tokens(text) = len(text) // 4 + 1``. A request's prompt tokens are the
  sum over its messages of the estimate of the message's text parts, plus ``IMAGE_TOKENS`` per
  ``image_url`` part. Completion tokens are the estimate of the returned content (0 when empty/null).
* Rate limits are token buckets refilled continuously at ``limit / 60`` per second, so a full minute's
  budget can be spent in a burst, like OpenAI's. The TPM cost of a request is, like OpenAI's
  accounting, its estimated prompt tokens plus its ``max_completion_tokens``/``max_tokens`` (0 if
  absent), charged when the request is admitted. A rejected request costs nothing; a request larger
  than the whole TPM limit is always rejected.
* Fault decisions: a deterministic ``FaultConfig.schedule`` first, then one random draw against the
  ``fail_rate_*`` probabilities (seeded RNG), then the scripted responses. Such a fault never
  consumes a scripted response, so a retried request gets the response the failed one would have got.
* Only the first choice is produced (``n`` is ignored); ``stream: true`` is rejected with a 400.

For a server in another process (``python -m svit_assets.testing.openai_server``), the same controls
are HTTP endpoints: ``POST /_control/config`` (flat ServerConfig/FaultConfig field names, as for
``FakeOpenAIServer.configure``), ``POST /_control/script`` (``{"pattern", "responses"}``, faults as
``{"fault": "500"}``), ``DELETE /_control/script``, ``POST /_control/reset`` and ``GET /_control/stats``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

import orjson
import uvloop
from aiohttp import web

IMAGE_TOKENS = 85  # what OpenAI charges for a low-detail image
MAX_BODY_BYTES = 256 * 1024 * 1024  # batch input files and base64 images are large
MALFORMED_CONTENT = 'Sure! Here is the JSON you asked for: {"description": "unterminated'
CHAT_PATH = "/v1/chat/completions"
_MAX_SCHEMA_DEPTH = 8
_TERMINAL_BATCH = frozenset({"completed", "failed", "expired", "cancelled"})


class Fault(StrEnum):
    """Injectable failures; the values are the names used in JSON control requests."""

    HTTP_500 = "500"
    HTTP_503 = "503"
    HTTP_429 = "429"  # a 429 although the configured limits are not exceeded
    HTTP_400 = "400"
    TIMEOUT = "timeout"  # sleep FaultConfig.timeout_s before answering normally
    DROP = "drop"  # close the connection without a response
    MALFORMED = "malformed"  # content that is not valid JSON
    LENGTH = "length"  # content cut in half, finish_reason "length"
    CONTENT_FILTER = "content_filter"  # null content, finish_reason "content_filter"


_HTTP_FAULTS: dict[Fault, tuple[int, str, str, str | None]] = {
    Fault.HTTP_500: (500, "The server had an error while processing your request.", "server_error", None),
    Fault.HTTP_503: (
        503,
        "The engine is currently overloaded, please try again later.",
        "server_error",
        None,
    ),
    Fault.HTTP_429: (429, "Rate limit reached for requests (injected).", "requests", "rate_limit_exceeded"),
    Fault.HTTP_400: (400, "Invalid request (injected).", "invalid_request_error", "invalid_request"),
}


@dataclass
class FaultSchedule:
    """A deterministic fault for the first ``first_n`` chat requests and/or every ``every_k``-th one.

    Requests are numbered from 1 since the schedule was configured (or ``reset_counters``); batch
    lines are numbered along with HTTP chat requests.
    """

    fault: Fault
    first_n: int = 0
    every_k: int = 0

    def __post_init__(self) -> None:
        self.fault = Fault(self.fault)

    def hits(self, seq: int) -> bool:
        return seq <= self.first_n or (self.every_k > 0 and seq % self.every_k == 0)


@dataclass
class FaultConfig:
    """Chat-completion fault injection: per-fault probabilities (summing to at most 1) and a schedule."""

    fail_rate_500: float = 0.0
    fail_rate_503: float = 0.0
    fail_rate_429: float = 0.0
    fail_rate_400: float = 0.0
    fail_rate_timeout: float = 0.0
    fail_rate_drop: float = 0.0
    fail_rate_malformed: float = 0.0
    fail_rate_length: float = 0.0
    fail_rate_content_filter: float = 0.0
    schedule: list[FaultSchedule] = field(default_factory=list)
    timeout_s: float = 30.0  # how long a TIMEOUT fault stalls; pick more than the client's timeout
    retry_after_ms: int = 1000  # the Retry-After sent with an injected 429

    def __post_init__(self) -> None:
        self.schedule = [s if isinstance(s, FaultSchedule) else FaultSchedule(**s) for s in self.schedule]
        # the non-zero rates, once: read per request, never changed (`configure` builds a new FaultConfig)
        self._rates = [(f, rate) for f in Fault if (rate := getattr(self, f"fail_rate_{f.value}"))]

    def pick(self, seq: int, rng: random.Random) -> Fault | None:
        for rule in self.schedule:
            if rule.hits(seq):
                return rule.fault
        draw = rng.random()  # drawn even when every rate is 0, so the seeded sequence stays the same
        for fault, rate in self._rates:
            draw -= rate
            if draw < 0:
                return fault
        return None


@dataclass
class ServerConfig:
    """Server behaviour; everything but host/port can be changed at runtime with ``configure``."""

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str | None = None  # when set, requests need "Authorization: Bearer <api_key>"
    latency_ms: float = 0.0  # chat completion latency: latency_ms ± uniform jitter_ms
    jitter_ms: float = 0.0
    rpm: int | None = None
    tpm: int | None = None
    batch_delay_s: float = 0.0  # a batch completes once both this much time and batch_polls GETs passed
    batch_polls: int = 2  # the first GET shows in_progress, the second the final state
    batch_faults: list[str | None] = field(default_factory=list)  # n-th created batch: None/expired/failed
    batch_fault_fraction: float = 0.5  # share of requests processed before an expired/failed/cancelled end
    request_log_size: int = 1000
    seed: int | None = 0
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        if isinstance(self.faults, dict):
            self.faults = FaultConfig(**self.faults)
        bad = [f for f in self.batch_faults if f not in (None, "expired", "failed")]
        if bad:
            raise ValueError(f"batch_faults entries must be None, 'expired' or 'failed', got {bad}")


_RUNTIME_FIELDS = {f.name for f in fields(ServerConfig)} - {"host", "port", "faults"}
_FAULT_FIELDS = {f.name for f in fields(FaultConfig)}


@dataclass
class Reply:
    """One scripted answer: content (None = the default content) with a finish_reason, or a fault.

    A content fault (MALFORMED, LENGTH, CONTENT_FILTER) applies to the given or default content.
    """

    content: str | None = None
    finish_reason: str = "stop"
    fault: Fault | None = None

    def __post_init__(self) -> None:
        if self.fault is not None:
            self.fault = Fault(self.fault)


def _as_reply(item: str | Fault | Reply | dict) -> Reply:
    """Script items are content strings, Fault members, Reply objects or Reply-like dicts (from JSON)."""
    if isinstance(item, Reply):
        return item
    if isinstance(item, Fault):  # before str: Fault is a str
        return Reply(fault=item)
    if isinstance(item, str):
        return Reply(content=item)
    return Reply(**item)


@dataclass
class _Rule:
    matcher: Callable[[str], object]
    replies: list[Reply]
    served: int = 0

    def next_reply(self) -> Reply:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


@dataclass
class _Prompt:
    text: str  # all message texts joined by newlines: what script patterns see
    last_user: str
    tokens: int
    max_tokens: int | None


def estimate_tokens(text: str) -> int:
    """Deterministic stand-in for a tokenizer: about four characters per token."""
    return len(text) // 4 + 1


def format_duration(seconds: float) -> str:
    """OpenAI's x-ratelimit-reset-* format: "120ms", "1s", "17.5s", "6m0s"."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    rest_text = f"{rest:.3f}".rstrip("0").rstrip(".")
    return f"{int(minutes)}m{rest_text}s" if minutes else f"{rest_text}s"


def schema_instance(schema: dict, root: dict | None = None, depth: int = 0) -> Any:
    """A small JSON value valid for common JSON-Schema keywords, so JSON-mode requests get parseable output.

    Handles $ref into $defs/definitions, const, enum, anyOf/oneOf (first non-null option), allOf (merged),
    object (every property), array (max(minItems, 1) items, capped by maxItems), string (min/maxLength),
    integer/number (minimum/maximum, exclusive bounds), boolean and null. Beyond a fixed depth it prefers
    null options and minItems-long arrays so recursive schemas terminate.
    """
    root = schema if root is None else root
    schema = _deref(schema, root)
    deep = depth >= _MAX_SCHEMA_DEPTH
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if options := schema.get(key):
            resolved = [_deref(option, root) for option in options]
            non_null = [option for option in resolved if option.get("type") != "null"]
            preferred = resolved if deep or not non_null else non_null
            if deep:
                preferred = sorted(preferred, key=lambda option: option.get("type") != "null")
            return schema_instance(preferred[0], root, depth + 1)
    if parts := schema.get("allOf"):
        merged: dict = {}
        for part in parts:
            merged.update(_deref(part, root))
        merged.update({k: v for k, v in schema.items() if k != "allOf"})
        return schema_instance(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        return {
            name: schema_instance(sub, root, depth + 1) for name, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        count = schema.get("minItems", 0) if deep else max(schema.get("minItems", 0), 1)
        count = min(count, schema.get("maxItems", count))
        return [schema_instance(schema.get("items") or {}, root, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number_instance(schema, kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "example".ljust(schema.get("minLength", 0), "x")[: schema.get("maxLength")]


def _deref(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#").strip("/").split("/"):
            if part:
                target = target[part]
        schema = target
    return schema


def _number_instance(schema: dict, integer: bool) -> int | float:
    step = 1 if integer else 0.5
    low = schema.get("minimum")
    if "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + step
    high = schema.get("maximum")
    if "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"] - step
    value = 0 if low is None else low
    if high is not None and value > high:
        value = high
    return math.ceil(value) if integer else value


def _error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _json_response(payload: Any, status: int = 200) -> web.Response:
    """`web.json_response` with orjson: the benchmarks share two cores with this server, so it stays lean."""
    body = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)  # stats count by (int) status
    return web.Response(body=body, status=status, content_type="application/json")


def _error_response(status: int, message: str, type_: str, code: str | None = None) -> web.Response:
    return _json_response(_error_body(message, type_, code), status=status)


def _retry_headers(response: web.Response, wait_s: float) -> web.Response:
    response.headers["retry-after"] = str(max(1, math.ceil(wait_s)))
    response.headers["retry-after-ms"] = str(max(1, round(wait_s * 1000)))
    return response


class _ApiError(Exception):
    """Raised by request handling to answer with an OpenAI-style error body."""

    def __init__(
        self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None
    ):
        super().__init__(message)
        self.status = status
        self.body = _error_body(message, type_, param=param)


class _Dropped(Exception):
    """Raised after closing a connection on purpose, so the middleware neither answers nor counts it."""


def _new_id(prefix: str) -> str:
    return f"{prefix}{os.urandom(12).hex()}"  # as random as uuid4().hex[:24], without building a UUID


def _parse_chat(body: object) -> _Prompt:
    """Validates a chat-completion body like the API does and extracts what the fake needs from it."""
    if not isinstance(body, dict):
        raise _ApiError(400, "The request body must be a JSON object.")
    if not isinstance(body.get("model"), str):
        raise _ApiError(400, "You must provide a model parameter.", param="model")
    if body.get("stream"):
        raise _ApiError(400, "Streaming is not supported by the fake server.", param="stream")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise _ApiError(400, "'messages' must be a non-empty array of message objects.", param="messages")
    texts, tokens, last_user = [], 0, ""
    for message in messages:
        content = message.get("content")
        images = 0
        if isinstance(content, list):
            parts = [p for p in content if isinstance(p, dict)]
            images = sum(p.get("type") == "image_url" for p in parts)
            content = "\n".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")
        text = content if isinstance(content, str) else ""
        texts.append(text)
        tokens += estimate_tokens(text) + IMAGE_TOKENS * images
        if message.get("role") == "user":
            last_user = text
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise _ApiError(400, "max_tokens must be a positive integer.", param="max_tokens")
    return _Prompt("\n".join(texts), last_user, tokens, max_tokens)


def _default_content(body: dict, prompt: _Prompt) -> str:
    """What the model "says" when no script matches: schema-valid JSON in JSON mode, an echo otherwise."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return json.dumps(schema_instance((response_format.get("json_schema") or {}).get("schema") or {}))
    if response_format.get("type") == "json_object":
        return json.dumps({"echo": prompt.last_user[:200]})
    return "Echo: " + prompt.last_user[:1000]


class _Bucket:
    """Per-minute limit as a continuously refilled token bucket: O(1) per request, no timestamp lists."""

    def __init__(self, per_minute: int):
        self.capacity = float(per_minute)
        self.level = self.capacity
        self.rate = self.capacity / 60
        self.stamp = time.monotonic()

    def wait_s(self, cost: float) -> float:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        return max(0.0, (cost - self.level) / self.rate)

    def headers(self, kind: str) -> dict[str, str]:
        self.wait_s(0)  # refill
        return {
            f"x-ratelimit-limit-{kind}": str(int(self.capacity)),
            f"x-ratelimit-remaining-{kind}": str(max(0, int(self.level))),
            f"x-ratelimit-reset-{kind}": format_duration((self.capacity - self.level) / self.rate),
        }


@dataclass
class _Batch:
    info: dict  # the OpenAI batch object served to clients
    lines: list[dict]
    errors: list[dict]  # validation errors: the batch fails on its first poll
    fault: str | None
    created: float = field(default_factory=time.monotonic)
    polls: int = 0


def _parse_batch_input(data: bytes) -> tuple[list[dict], list[dict]]:
    lines: list[dict] = []
    errors: list[dict] = []
    seen: set[str] = set()
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        if not (
            isinstance(line, dict)
            and isinstance(line.get("custom_id"), str)
            and line.get("method") == "POST"
            and line.get("url") == CHAT_PATH
            and isinstance(line.get("body"), dict)
        ):
            errors.append(
                {
                    "code": "invalid_request",
                    "message": "Invalid batch request line.",
                    "param": None,
                    "line": number,
                }
            )
        elif line["custom_id"] in seen:
            errors.append(
                {
                    "code": "duplicate_custom_id",
                    "message": "Duplicate custom_id.",
                    "param": None,
                    "line": number,
                }
            )
        else:
            seen.add(line["custom_id"])
            lines.append(line)
    return lines, errors


class _Backend:
    """All state and request handling. Only the server's event-loop thread touches it, so no locks."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.rng = random.Random(config.seed)
        self.rules: list[_Rule] = []
        self.files: dict[str, tuple[dict, bytes]] = {}
        self.batches: dict[str, _Batch] = {}
        self.in_flight = 0
        self._build_limits()
        self.reset_counters()

    # -- configuration and counters ---------------------------------------------------------------

    def _build_limits(self) -> None:
        self.rpm_bucket = _Bucket(self.config.rpm) if self.config.rpm else None
        self.tpm_bucket = _Bucket(self.config.tpm) if self.config.tpm else None

    def configure(self, **changes: Any) -> ServerConfig:
        fault_changes = {k: v for k, v in changes.items() if k in _FAULT_FIELDS}
        runtime_changes = {k: v for k, v in changes.items() if k in _RUNTIME_FIELDS}
        unknown = changes.keys() - fault_changes.keys() - runtime_changes.keys()
        if unknown:
            raise ValueError(f"unknown or immutable settings: {sorted(unknown)}")
        self.config = replace(
            self.config, **runtime_changes, faults=replace(self.config.faults, **fault_changes)
        )
        if changes.keys() & {"rpm", "tpm"}:
            self._build_limits()
        if "seed" in changes:
            self.rng.seed(self.config.seed)
        if "schedule" in changes:
            self.fault_seq = 0
        if "batch_faults" in changes:
            self.batch_seq = 0
        if "request_log_size" in changes:
            self.request_log = deque(self.request_log, maxlen=self.config.request_log_size)
        return self.config

    def add_script(
        self, pattern: str | Callable[[str], object], responses: Iterable[str | Fault | Reply | dict]
    ) -> None:
        replies = [_as_reply(item) for item in responses]
        if not replies:
            raise ValueError("a script rule needs at least one response")
        matcher = pattern if callable(pattern) else re.compile(pattern, re.DOTALL).search
        self.rules.append(_Rule(matcher, replies))

    def reset_counters(self) -> None:
        self.requests_total = 0
        self.by_path: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.chat_ok = 0
        self.rate_limited = 0
        self.dropped = 0
        self.batch_lines = 0
        self.max_in_flight = self.in_flight
        self.request_log: deque[dict] = deque(maxlen=self.config.request_log_size)
        self.fault_seq = 0
        self.batch_seq = 0

    def stats(self) -> dict:
        return {
            "requests_total": self.requests_total,
            "by_path": dict(self.by_path),
            "by_status": dict(self.by_status),
            "chat_completions_ok": self.chat_ok,
            "faults": dict(self.faults),
            "rate_limited": self.rate_limited,
            "dropped": self.dropped,
            "batch_lines": self.batch_lines,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "request_log": list(self.request_log),
        }

    # -- app and middleware -----------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY_BYTES)
        app.router.add_post(CHAT_PATH, self._chat)
        app.router.add_post("/v1/files", self._upload_file)
        app.router.add_get("/v1/files/{file_id}", self._get_file)
        app.router.add_delete("/v1/files/{file_id}", self._delete_file)
        app.router.add_get("/v1/files/{file_id}/content", self._file_content)
        app.router.add_post("/v1/batches", self._create_batch)
        app.router.add_get("/v1/batches/{batch_id}", self._get_batch)
        app.router.add_post("/v1/batches/{batch_id}/cancel", self._cancel_batch)
        app.router.add_get("/_control/stats", self._control_stats)
        app.router.add_post("/_control/config", self._control_config)
        app.router.add_post("/_control/script", self._control_script)
        app.router.add_delete("/_control/script", self._control_clear_scripts)
        app.router.add_post("/_control/reset", self._control_reset)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        """Counts, authenticates, turns errors into OpenAI bodies and adds rate-limit headers."""
        if request.path.startswith("/_control/"):  # test instrumentation is not traffic
            return await self._guarded(request, handler)
        self.requests_total += 1
        resource = request.match_info.route.resource
        self.by_path[resource.canonical if resource else request.path] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            key = self.config.api_key
            if key and request.headers.get("Authorization") != f"Bearer {key}":
                response = _error_response(
                    401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
                )
            else:
                response = await self._guarded(request, handler)
        except _Dropped:
            return web.Response()  # never reaches the client: aiohttp drops writes to a closed transport
        finally:
            self.in_flight -= 1
        self.by_status[response.status] += 1
        for kind, bucket in (("requests", self.rpm_bucket), ("tokens", self.tpm_bucket)):
            if bucket is not None:
                response.headers.update(bucket.headers(kind))
        return response

    @staticmethod
    async def _guarded(request: web.Request, handler: Callable) -> web.StreamResponse:
        try:
            return await handler(request)
        except _ApiError as exc:
            return _json_response(exc.body, status=exc.status)
        except web.HTTPException as exc:
            return _error_response(exc.status, exc.reason, "invalid_request_error")

    async def _json(self, request: web.Request) -> Any:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise _ApiError(400, "The request body is not valid JSON.") from None
        if not request.path.startswith("/_control/"):
            self.request_log.append({"path": request.path, "body": body})
        return body

    # -- chat completions -------------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._json(request)
        prompt = _parse_chat(body)
        limited = self._admit(prompt.tokens + (prompt.max_tokens or 0))
        if limited is not None:
            return limited
        reply = self._pick(prompt)
        if reply.fault is Fault.TIMEOUT:
            await asyncio.sleep(self.config.faults.timeout_s)
        delay_ms = self.config.latency_ms
        if self.config.jitter_ms:
            delay_ms += self.rng.uniform(-self.config.jitter_ms, self.config.jitter_ms)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if reply.fault is Fault.DROP:
            self.dropped += 1
            if request.transport is not None:
                request.transport.close()
            raise _Dropped
        status, payload = self._answer(body, prompt, reply)
        response = _json_response(payload, status=status)
        if status == 200:
            self.chat_ok += 1
        elif status == 429:
            _retry_headers(response, self.config.faults.retry_after_ms / 1000)
        return response

    def _admit(self, token_cost: int) -> web.Response | None:
        """Charges the request against RPM and TPM, or returns the 429 a real endpoint would send."""
        for kind, bucket, cost in (("requests", self.rpm_bucket, 1), ("tokens", self.tpm_bucket, token_cost)):
            if bucket is None:
                continue
            wait_s = bucket.wait_s(cost)
            if wait_s > 0:
                self.rate_limited += 1
                message = (
                    f"Rate limit reached for {kind} per min (RPM/TPM): Limit {int(bucket.capacity)}, "
                    f"Requested {cost}. Please try again in {format_duration(wait_s)}."
                )
                return _retry_headers(_error_response(429, message, kind, "rate_limit_exceeded"), wait_s)
        for bucket, cost in ((self.rpm_bucket, 1), (self.tpm_bucket, token_cost)):
            if bucket is not None:
                bucket.level -= cost
        return None

    def _pick(self, prompt: _Prompt) -> Reply:
        self.fault_seq += 1
        fault = self.config.faults.pick(self.fault_seq, self.rng)
        reply = (
            Reply(fault=fault)
            if fault
            else next((r.next_reply() for r in self.rules if r.matcher(prompt.text)), Reply())
        )
        if reply.fault:
            self.faults[reply.fault.value] += 1
        return reply

    def _answer(self, body: dict, prompt: _Prompt, reply: Reply) -> tuple[int, dict]:
        """The status and body of a chat completion, for everything but transport faults."""
        if reply.fault in _HTTP_FAULTS:
            status, message, type_, code = _HTTP_FAULTS[reply.fault]
            return status, _error_body(message, type_, code)
        content: str | None = _default_content(body, prompt) if reply.content is None else reply.content
        finish_reason = reply.finish_reason
        if reply.fault is Fault.MALFORMED:
            content = MALFORMED_CONTENT
        elif reply.fault is Fault.LENGTH:
            content, finish_reason = content[: max(1, len(content) // 2)], "length"
        elif reply.fault is Fault.CONTENT_FILTER:
            content, finish_reason = None, "content_filter"
        if content and prompt.max_tokens and estimate_tokens(content) > prompt.max_tokens:
            content, finish_reason = content[: 4 * prompt.max_tokens - 1], "length"
        completion_tokens = estimate_tokens(content) if content else 0
        return 200, {
            "id": _new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt.tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt.tokens + completion_tokens,
            },
        }

    # -- files ------------------------------------------------------------------------------------

    def _store_file(self, data: bytes, filename: str, purpose: str) -> dict:
        meta = {
            "id": _new_id("file-"),
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
        }
        self.files[meta["id"]] = (meta, data)
        return meta

    def _lookup_file(self, file_id: str) -> tuple[dict, bytes]:
        if file_id not in self.files:
            raise _ApiError(404, f"No such File object: {file_id}", param="id")
        return self.files[file_id]

    async def _upload_file(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, web.FileField):
            raise _ApiError(400, "Missing file.", param="file")
        if purpose != "batch":
            raise _ApiError(400, "Only purpose 'batch' is supported.", param="purpose")
        return _json_response(self._store_file(upload.file.read(), upload.filename, purpose))

    async def _get_file(self, request: web.Request) -> web.Response:
        return _json_response(self._lookup_file(request.match_info["file_id"])[0])

    async def _delete_file(self, request: web.Request) -> web.Response:
        meta, _ = self._lookup_file(request.match_info["file_id"])
        del self.files[meta["id"]]
        return _json_response({"id": meta["id"], "object": "file", "deleted": True})

    async def _file_content(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._lookup_file(request.match_info["file_id"])[1], content_type="application/octet-stream"
        )

    # -- batches ----------------------------------------------------------------------------------

    def _lookup_batch(self, batch_id: str) -> _Batch:
        if batch_id not in self.batches:
            raise _ApiError(404, f"No such Batch object: {batch_id}", param="batch_id")
        return self.batches[batch_id]

    async def _create_batch(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if not isinstance(body, dict) or body.get("input_file_id") not in self.files:
            raise _ApiError(400, "Invalid input_file_id.", param="input_file_id")
        if body.get("endpoint") != CHAT_PATH:
            raise _ApiError(400, f"Only {CHAT_PATH} batches are supported.", param="endpoint")
        if body.get("completion_window") != "24h":
            raise _ApiError(400, "completion_window must be '24h'.", param="completion_window")
        lines, errors = _parse_batch_input(self.files[body["input_file_id"]][1])
        faults = self.config.batch_faults
        fault = faults[self.batch_seq] if self.batch_seq < len(faults) else None
        self.batch_seq += 1
        now = int(time.time())
        info = {
            "id": _new_id("batch_"),
            "object": "batch",
            "endpoint": CHAT_PATH,
            "errors": None,
            "input_file_id": body["input_file_id"],
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + 86400,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        }
        self.batches[info["id"]] = _Batch(info, lines, errors, fault)
        return _json_response(info)

    async def _get_batch(self, request: web.Request) -> web.Response:
        batch = self._lookup_batch(request.match_info["batch_id"])
        batch.polls += 1
        self._advance(batch)
        return _json_response(batch.info)

    async def _cancel_batch(self, request: web.Request) -> web.Response:
        batch = self._lookup_batch(request.match_info["batch_id"])
        if batch.info["status"] in _TERMINAL_BATCH:
            raise _ApiError(409, f"Cannot cancel a batch with status '{batch.info['status']}'.")
        batch.info.update(status="cancelling", cancelling_at=int(time.time()))
        return _json_response(batch.info)

    def _advance(self, batch: _Batch) -> None:
        """Moves a batch along validating -> in_progress -> final state as it is polled."""
        info = batch.info
        if info["status"] in _TERMINAL_BATCH:
            return
        if info["status"] == "cancelling":
            self._finish(batch, "cancelled")
        elif batch.errors:
            info.update(
                status="failed", failed_at=int(time.time()), errors={"object": "list", "data": batch.errors}
            )
        elif (
            batch.polls >= self.config.batch_polls
            and time.monotonic() - batch.created >= self.config.batch_delay_s
        ):
            self._finish(batch, batch.fault or "completed")
        elif info["status"] == "validating":
            info.update(
                status="in_progress",
                in_progress_at=int(time.time()),
                request_counts={"total": len(batch.lines), "completed": 0, "failed": 0},
            )

    def _finish(self, batch: _Batch, outcome: str) -> None:
        """Runs the batch's requests (all, or a fraction for a faulty end) and writes output/error files."""
        total = len(batch.lines)
        processed = total if outcome == "completed" else int(total * self.config.batch_fault_fraction)
        output: list[dict] = []
        failed: list[dict] = []
        for line in batch.lines[:processed]:
            status, payload = self._run_batch_line(line["body"])
            record = {
                "id": _new_id("batch_req_"),
                "custom_id": line["custom_id"],
                "response": {"status_code": status, "request_id": _new_id("req_"), "body": payload},
                "error": None,
            }
            (output if status == 200 else failed).append(record)
        if outcome == "expired":
            failed.extend(
                {
                    "id": _new_id("batch_req_"),
                    "custom_id": line["custom_id"],
                    "response": None,
                    "error": {
                        "code": "batch_expired",
                        "message": "This request could not be executed before the completion window expired.",
                    },
                }
                for line in batch.lines[processed:]
            )
        now = int(time.time())
        batch.info.update(
            {
                "status": outcome,
                "finalizing_at": now,
                f"{outcome}_at": now,
                "output_file_id": self._store_jsonl(output, "batch_output"),
                "error_file_id": self._store_jsonl(failed, "batch_output"),
                "request_counts": {"total": total, "completed": len(output), "failed": len(failed)},
            }
        )
        if outcome == "failed":
            error = {
                "code": "server_error",
                "message": "The batch failed part-way (injected).",
                "param": None,
                "line": None,
            }
            batch.info["errors"] = {"object": "list", "data": [error]}

    def _run_batch_line(self, body: dict) -> tuple[int, dict]:
        try:
            prompt = _parse_chat(body)
        except _ApiError as exc:
            return exc.status, exc.body
        reply = self._pick(prompt)
        if reply.fault in (Fault.TIMEOUT, Fault.DROP):  # no transport per line: report a server error
            reply = Reply(fault=Fault.HTTP_500)
        self.batch_lines += 1
        return self._answer(body, prompt, reply)

    def _store_jsonl(self, records: list[dict], purpose: str) -> str | None:
        if not records:
            return None
        data = "".join(json.dumps(record) + "\n" for record in records).encode()
        return self._store_file(data, f"{purpose}.jsonl", purpose)["id"]

    # -- control endpoints (for a server in another process) --------------------------------------

    async def _control_stats(self, request: web.Request) -> web.Response:
        return _json_response(self.stats())

    async def _control_config(self, request: web.Request) -> web.Response:
        changes = await self._json(request)
        try:
            config = self.configure(**changes)
        except (TypeError, ValueError) as exc:
            raise _ApiError(400, str(exc)) from None
        return _json_response(asdict(config))

    async def _control_script(self, request: web.Request) -> web.Response:
        rule = await self._json(request)
        try:
            self.add_script(rule["pattern"], rule["responses"])
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise _ApiError(400, f"bad script rule: {exc}") from None
        return _json_response({"rules": len(self.rules)})

    async def _control_clear_scripts(self, request: web.Request) -> web.Response:
        self.rules.clear()
        return _json_response({"rules": 0})

    async def _control_reset(self, request: web.Request) -> web.Response:
        self.reset_counters()
        return _json_response({"reset": True})


class FakeOpenAIServer:
    """Runs the fake in its own thread and event loop, so sync tests and asyncio clients can both use it.

    Methods marshal into the server loop, so they are safe to call from any other thread while
    requests are being served.
    """

    def __init__(self, config: ServerConfig | None = None):
        self._backend = _Backend(config or ServerConfig())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI client's base_url, e.g. "http://127.0.0.1:54321/v1"."""
        return f"{self.root_url}/v1"

    @property
    def root_url(self) -> str:
        """Where the /_control endpoints live."""
        if self.port is None:
            raise RuntimeError("server not started")
        return f"http://{self._backend.config.host}:{self.port}"

    @property
    def config(self) -> ServerConfig:
        return self._backend.config

    def start(self) -> FakeOpenAIServer:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="fake-openai-server", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def configure(self, **changes: Any) -> ServerConfig:
        """Changes ServerConfig/FaultConfig fields by name, e.g. ``configure(rpm=60, fail_rate_500=0.1)``."""
        return self._call(self._backend.configure, **changes)

    def script(
        self, pattern: str | Callable[[str], object], responses: Iterable[str | Fault | Reply | dict]
    ) -> None:
        """Adds a rule: requests whose joined message texts match ``pattern`` (a regex searched with
        DOTALL, or a predicate) get ``responses`` in order, the last one repeating. First matching rule wins.
        """
        self._call(self._backend.add_script, pattern, list(responses))

    def clear_scripts(self) -> None:
        self._call(self._backend.rules.clear)

    def stats(self) -> dict:
        return self._call(self._backend.stats)

    def reset_counters(self) -> None:
        self._call(self._backend.reset_counters)

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = self._loop
        if loop is None:  # not serving: no other thread touches the backend
            return fn(*args, **kwargs)

        async def run() -> Any:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), loop).result()

    def _serve(self, ready: threading.Event) -> None:
        loop = uvloop.new_event_loop()  # ~15% less CPU per request than asyncio's own loop
        runner = web.AppRunner(
            self._backend.make_app(), access_log=None, handler_cancellation=True, shutdown_timeout=0.25
        )
        try:
            loop.run_until_complete(self._start_site(runner))
            self._loop = loop
        except BaseException as exc:  # reported to start()'s caller
            self._startup_error = exc
            loop.close()
            return
        finally:
            ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending))
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _start_site(self, runner: web.AppRunner) -> None:
        await runner.setup()
        config = self._backend.config
        await web.TCPSite(runner, config.host, config.port, backlog=1024).start()
        self.port = runner.addresses[0][1]


def main(argv: list[str] | None = None) -> None:
    """Serves in the foreground; the first stdout line is the base URL, for subprocess users."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--rpm", type=int)
    parser.add_argument("--tpm", type=int)
    parser.add_argument("--api-key")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = ServerConfig(
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        rpm=args.rpm,
        tpm=args.tpm,
        api_key=args.api_key,
        seed=args.seed,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwind the with-block on terminate()
    with FakeOpenAIServer(config) as server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()

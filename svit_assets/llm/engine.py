"""`LLMEngine`: sends chat completions steadily, pays for each answer once, and records every cent.

One engine per partition run. Requests flow without batch barriers — up to `max_concurrency` in flight,
each released by the shared RPM/TPM limiter — and each answer is committed to the SQLite cache together
with its ledger row before `complete` returns it, so a re-run (or a run restarted after `kill -9`) asks
only what was never answered. The engine owns retries (the SDK's are switched off): backoff with full
jitter for 429/5xx/timeouts/dropped connections, none for requests the server rejects, one larger
`max_tokens` for truncated answers, and a per-request deadline plus a circuit breaker so a dead endpoint
stops the partition with `LLMFailure` instead of hanging it.

Chat requests go through the official `AsyncOpenAI` client (SDK retries off; over aiohttp, see transport.py)
with its documented generic `client.post(path, cast_to=httpx.Response)`: like `with_raw_response` it hands us
the raw response, whose `x-ratelimit-*` headers feed the limiter, and it skips the typed
`chat.completions.create` wrapper, whose per-call TypedDict transform costs about a millisecond of CPU —
alone enough to cap one process at a few hundred requests per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import hashlib
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx2
import openai
import orjson

from svit_assets.home import Home
from svit_assets.llm.answers import (
    CACHEABLE,
    CONTENT_FILTER_CODES,
    FATAL_STATUS,
    Answer,
    answer_row,
    combined,
    first_choice,
    parse_json,
    read_answer,
    retryable_status,
    to_result,
)
from svit_assets.llm.batch import BatchRunner
from svit_assets.llm.ledger import RunStats, export_orphans, export_run, register_run
from svit_assets.llm.limits import SharedLimiter
from svit_assets.llm.pricing import cost_usd
from svit_assets.llm.store import Store, Write
from svit_assets.llm.tokens import estimate_prompt_tokens
from svit_assets.llm.transport import AiohttpTransport
from svit_assets.llm.types import BudgetExceeded, ChatRequest, ChatResult, LLMFailure, LLMSettings

_SECRET = re.compile(r"\b(sk-[A-Za-z0-9_*-]{2})[A-Za-z0-9_*-]{6,}")
_CALIBRATION_WEIGHT = 0.05
_JSON_HEADERS = {"Content-Type": "application/json"}
_GC_GEN0_THRESHOLD = 10_000


class _RareCollections:
    """Runs CPython's cyclic garbage collector about 15 times less often while any engine is open.

    At hundreds of requests per second the SDK leaves a few dozen tracked objects per request alive across
    a gen-0 pass, so at the default threshold (700 allocations) the collector ran every dozen or so requests
    and its full passes walked every pending request: ~0.1 ms of CPU per request, and pauses of 50-100 ms that
    stalled everything in flight. Cycles are still collected, after 10,000 allocations instead of 700.
    The setting is process-wide, so engines are counted and the last one to close restores it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self._saved = gc.get_threshold()

    def hold(self) -> None:
        with self._lock:
            if self._open == 0:
                self._saved = gc.get_threshold()
                gc.set_threshold(max(_GC_GEN0_THRESHOLD, self._saved[0]), *self._saved[1:])
            self._open += 1

    def release(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0:
                gc.set_threshold(*self._saved)


_RARE_COLLECTIONS = _RareCollections()


@dataclass(frozen=True)
class _Outcome:
    """What one HTTP attempt produced, before we decide what it means."""

    http_status: int | None
    headers: dict[str, str]  # lower-case names
    content: bytes
    transport_error: str | None = None


class _SchemaRejected(Exception):
    """The endpoint refused a `json_schema` response format (llama.cpp's server, older vLLM/Ollama)."""


class ResponseFormats:
    """Which structured-output mode an endpoint accepts, remembered on disk per endpoint and model.

    Endpoints that reject `json_schema` usually accept `json_object`; the prompts spell out the JSON shape
    anyway and the parser is tolerant, so the request is downgraded once — not retried identically — and
    every later run asks in the accepted form straight away (its cache keys then match). `mode` is the
    most the settings allow (`LLMSettings.structured_output`)."""

    def __init__(self, path: Path, endpoint: str, mode: str = "json_schema"):
        if mode not in ("json_schema", "json_object", "none"):
            raise ValueError(f"structured_output must be json_schema, json_object or none, not {mode!r}")
        self.path, self.endpoint, self.mode = path, endpoint, mode
        known = orjson.loads(path.read_bytes()) if path.exists() else {}
        self.schema_ok: bool = mode == "json_schema" and known.get(endpoint, {}).get("json_schema", True)

    def adapt(self, request: ChatRequest) -> ChatRequest:
        kind = (request.response_format or {}).get("type")
        if self.mode == "none" and kind is not None:
            return dataclasses.replace(request, response_format=None)
        if self.schema_ok or kind != "json_schema":
            return request
        return dataclasses.replace(request, response_format={"type": "json_object"})

    def rejected(self, request: ChatRequest, http_status: int | None, message: str) -> bool:
        """True (and remembered) when this failure is the endpoint refusing the json_schema format."""
        if (request.response_format or {}).get("type") != "json_schema" or http_status not in (400, 422, 500):
            return False
        if "response_format" not in message and "json_schema" not in message:
            return False
        self.schema_ok = False
        known = orjson.loads(self.path.read_bytes()) if self.path.exists() else {}
        known.setdefault(self.endpoint, {})["json_schema"] = False
        temporary = self.path.with_suffix(f".tmp-{uuid.uuid4().hex}")
        temporary.write_bytes(orjson.dumps(known, option=orjson.OPT_INDENT_2))
        temporary.replace(self.path)
        return True


class LLMEngine:
    def __init__(self, settings: LLMSettings, home: Home, run_label: str = ""):
        self.settings = settings
        self.home = home
        self.run_label = run_label
        self.run_id = uuid.uuid4().hex
        self.endpoint = settings.endpoint
        self.store = Store(home.llm_dir / "llm.sqlite3")
        self.ledger_dir: Path = home.llm_dir / "ledger"
        self.stats = RunStats()
        self.ledger_file: Path | None = None
        self._inflight: dict[str, asyncio.Future] = {}
        self._client: openai.AsyncOpenAI | None = None
        self._chat_url = ""  # set with the client
        self._limiter: SharedLimiter | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._failures_in_row = 0
        self._circuit_open: str | None = None
        self._spent_before = 0.0
        self._calibration = 1.0  # reported prompt tokens / our estimate, learned from `usage`
        self._formats = ResponseFormats(
            home.llm_dir / "endpoints.json", f"{self.endpoint} {settings.model}", settings.structured_output
        )

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> LLMEngine:
        s = self.settings
        export_orphans(self.store, self.ledger_dir)
        register_run(self.store, self.run_id, self.run_label)
        self._spent_before = self.store.spent_usd()
        self.store.start()
        self._limiter = SharedLimiter(
            self.home.llm_dir / "limits", _limiter_name(self.endpoint, s.model), s.rpm, s.tpm
        )
        self._semaphore = asyncio.Semaphore(s.max_concurrency)
        self._client = openai.AsyncOpenAI(
            base_url=s.base_url or self.endpoint,
            api_key=s.api_key or "no-key",  # local servers need no key, but the client insists on one
            timeout=s.timeout_s,
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(
                transport=AiohttpTransport(s.max_concurrency + 4), timeout=s.timeout_s
            ),
        )
        # absolute, so the SDK need not re-join it to the base URL on every call (its costliest URL step)
        self._chat_url = f"{self._client.base_url}chat/completions"
        _RARE_COLLECTIONS.hold()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is None:
            return
        client, self._client = self._client, None
        _RARE_COLLECTIONS.release()
        try:
            await self.store.flush()
        finally:
            self.store.stop()
            if self._limiter is not None:
                self._limiter.close()
            with contextlib.suppress(Exception):
                await client.close()
            self.ledger_file = export_run(self.store, self.ledger_dir, self.run_id, self.run_label)
            self.store.close()

    @property
    def client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            raise RuntimeError("use the engine inside `async with engine:`")
        return self._client

    def key_for(self, request: ChatRequest) -> str:
        """The cache key of the request as it will be sent (in the response format the endpoint accepts)."""
        return self._formats.adapt(request).key(self.endpoint, self.settings.model)

    # -- budget ------------------------------------------------------------------------------------

    def estimate_cost(self, requests: list[ChatRequest], batch: bool = False) -> float:
        """$ for the requests not answered yet: tiktoken prompt estimate plus a completion estimate
        (the model's observed mean, or `max_tokens` until there is enough history)."""
        s = self.settings
        keys = [self.key_for(r) for r in requests]
        done = self.store.cached_keys(keys)
        mean_completion, answered = self.store.query(
            "SELECT avg(completion_tokens), count(*) FROM ledger WHERE model = ? AND status = 'ok' AND cache_hit = 0",
            (s.model,),
        )[0]
        discount = s.batch_discount if batch else 1.0
        total, seen = 0.0, set()
        for request, key in zip(requests, keys, strict=True):
            if key in done or key in seen:
                continue
            seen.add(key)
            prompt = estimate_prompt_tokens(request.messages) * self._calibration
            completion = request.max_tokens
            if answered >= 20:
                completion = min(completion, 1.2 * mean_completion)
            total += cost_usd(s.prices, s.model, prompt, completion, discount)
        return total

    def ensure_budget(self, requests: list[ChatRequest], batch: bool = False) -> float:
        """Raises `BudgetExceeded` before anything is sent if these requests could overrun the budget."""
        estimate = self.estimate_cost(requests, batch=batch)
        budget = self.settings.budget_usd
        if budget is None:
            return estimate
        spent = self.store.spent_usd()
        if estimate > budget - spent:
            raise BudgetExceeded(
                f"LLM budget exceeded: the uncached requests of {self.run_label or 'this run'} to "
                f"{self.settings.model} would cost about ${estimate:.4f}, but only ${max(0.0, budget - spent):.4f} "
                f"of the ${budget:.2f} budget is left (${spent:.4f} already spent according to the ledger). "
                "Raise budget_usd (SVIT_LLM_BUDGET_USD) or generate fewer requests."
            )
        return estimate

    def _check_running_budget(self) -> None:
        budget = self.settings.budget_usd
        if budget is not None and self._spent_before + self.stats.cost_usd >= budget:
            raise BudgetExceeded(
                f"LLM budget of ${budget:.2f} is used up (${self._spent_before + self.stats.cost_usd:.4f} spent); "
                "stopping before sending more requests"
            )

    # -- completing ----------------------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> ChatResult:
        """The answer to `request`, from the cache or the endpoint; a truncated answer is re-asked once
        with a larger `max_tokens`. Raises `LLMFailure` when the endpoint keeps failing."""
        started = time.perf_counter()
        request = self._formats.adapt(request)
        key = self.key_for(request)
        try:
            answer, attempts = await self._answer(request, key)
        except _SchemaRejected:
            request = self._formats.adapt(request)
            key = self.key_for(request)
            answer, attempts = await self._answer(request, key)
        bigger = self._escalated(request) if answer.status == "length" else None
        if bigger is not None:
            first = answer
            key = self.key_for(bigger)
            answer, more = await self._answer(bigger, key)
            attempts += more
            answer = combined(first, answer)
        return to_result(key, answer, attempts, time.perf_counter() - started)

    def _escalated(self, request: ChatRequest) -> ChatRequest | None:
        larger = min(request.max_tokens * 2, self.settings.max_tokens_cap)
        return request.with_max_tokens(larger) if larger > request.max_tokens else None

    async def _answer(self, request: ChatRequest, key: str) -> tuple[Answer, int]:
        """Cache first, then an identical request already in flight, then the endpoint."""
        while True:
            hit = self.store.get_answer(key)
            if hit is not None:
                self._record_hit(request, key, hit)
                return hit, 0
            shared = self._inflight.get(key)
            if shared is None:
                break
            try:
                answer = await asyncio.shield(shared)
            except asyncio.CancelledError:
                if shared.cancelled():  # the caller that owned it was cancelled, not us: ask ourselves
                    continue
                raise
            self._record_hit(request, key, answer)
            return answer, 0
        future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            answer, attempts = await self._fetch(request, key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # waiters re-raise it; don't warn when there are none
            raise
        else:
            future.set_result(answer)
            return answer, attempts
        finally:
            del self._inflight[key]

    def _record_hit(self, request: ChatRequest, key: str, answer: Answer) -> None:
        self.stats.cache_hits += 1
        row = self._ledger_row(request.tag, key, answer.status, None, 0, 0, 0.0, 0.0, 0, cache_hit=True)
        self.store.submit(Write(ledger=[row]))

    async def _fetch(self, request: ChatRequest, key: str) -> tuple[Answer, int]:
        s = self.settings
        limiter, semaphore = self._limiter, self._semaphore
        if limiter is None or semaphore is None:
            raise RuntimeError("use the engine inside `async with engine:`")
        body = orjson.dumps(request.body(s.model, s.max_tokens_param))  # the SDK would deep-copy a dict twice
        estimate = 0  # prompt tokens by tiktoken, computed only once limits make them matter

        def cost_guess() -> int:
            nonlocal estimate
            estimate = estimate or estimate_prompt_tokens(request.messages)
            return int(estimate * self._calibration) + request.max_tokens

        began = time.monotonic()
        deadline = began + s.request_deadline_s
        attempt = 0
        while True:
            attempt += 1
            async with semaphore:
                # checked once a slot is ours: the queue behind the semaphore must not outrun them
                if self._circuit_open:
                    raise LLMFailure(self._circuit_open)
                self._check_running_budget()
                informed = await limiter.acquire(cost_guess)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._fail(
                        "the deadline passed while waiting for the rate limit", attempt - 1, began
                    )
                sent = time.perf_counter()
                try:
                    outcome = await self._send(body, min(s.timeout_s, remaining))
                except asyncio.CancelledError:
                    limiter.responded(None, {}, cost_guess, informed)  # don't leave others waiting on us
                    raise
                latency = time.perf_counter() - sent
                pause = limiter.responded(outcome.http_status, outcome.headers, cost_guess, informed)
                self.stats.requests_sent += 1
                self.stats.retries += int(attempt > 1)
                self.stats.latencies.append(latency)
                payload = parse_json(outcome.content) if outcome.http_status == 200 else None
                if payload is not None and first_choice(payload) is not None:
                    answer = self._read_answer(request, payload, estimate)
                    # committed before the slot is freed, so a kill loses at most max_concurrency answers
                    await self._settle(request, key, answer, 200, latency, attempt)
                    return answer, attempt
            status, message, retryable = self._classify(outcome)
            row = self._ledger_row(
                request.tag, key, status, outcome.http_status, 0, 0, 0.0, latency, attempt, error=message
            )
            self.store.submit(Write(ledger=[row]))
            if self._formats.rejected(request, outcome.http_status, message):
                raise _SchemaRejected(message)
            delay = random.uniform(0, min(s.backoff_max_s, s.backoff_base_s * 2 ** (attempt - 1)))
            if outcome.http_status == 429:
                self.stats.rate_limited_429 += 1
                delay = max(delay, pause)
            if outcome.http_status in FATAL_STATUS or (outcome.http_status == 429 and not retryable):
                raise self._fail(message, attempt, began, fatal=True)
            if not retryable:
                if status == "failed":
                    self._count_failure(message)
                return Answer(status, None, None, 0, 0, 0.0, error=message), attempt
            if attempt >= s.max_attempts:
                raise self._fail(message, attempt, began)
            if time.monotonic() + delay > deadline:
                raise self._fail(
                    f"{message}; the next retry would pass the {s.request_deadline_s:.0f} s deadline",
                    attempt,
                    began,
                )
            await asyncio.sleep(delay)

    async def _send(self, body: bytes, timeout: float) -> _Outcome:
        try:
            response = await self.client.post(
                self._chat_url,
                content=body,
                cast_to=httpx2.Response,
                options={"headers": _JSON_HEADERS, "timeout": timeout},
            )
        except openai.APIStatusError as exc:
            return _Outcome(exc.status_code, dict(exc.response.headers.items()), exc.response.content)
        except openai.APITimeoutError:
            return _Outcome(
                None, {}, b"", f"no response within {timeout:.1f} s (timeout or dropped connection)"
            )
        except openai.APIConnectionError as exc:
            return _Outcome(None, {}, b"", f"connection failed ({type(exc.__cause__ or exc).__name__})")
        # one pass over the headers: each lookup on httpx's Headers scans and decodes them all again
        return _Outcome(response.status_code, dict(response.headers.items()), response.content)

    def _read_answer(self, request: ChatRequest, payload: dict, estimate: int) -> Answer:
        s = self.settings
        reported = (payload.get("usage") or {}).get("prompt_tokens")
        if isinstance(reported, int) and estimate:
            self._calibration += _CALIBRATION_WEIGHT * (reported / estimate - self._calibration)
        return read_answer(
            payload, s.prices, s.model, lambda: estimate or estimate_prompt_tokens(request.messages)
        )

    async def _settle(
        self, request: ChatRequest, key: str, answer: Answer, http_status: int, latency: float, attempt: int
    ) -> None:
        """Commits the answer (if reusable) with its ledger row; only then may the caller see it."""
        self.stats.prompt_tokens += answer.prompt_tokens
        self.stats.completion_tokens += answer.completion_tokens
        self.stats.cost_usd += answer.cost_usd
        row = self._ledger_row(
            request.tag,
            key,
            answer.status,
            http_status,
            answer.prompt_tokens,
            answer.completion_tokens,
            answer.cost_usd,
            latency,
            attempt,
            error=answer.error,
        )
        answers = (
            [answer_row(key, answer, self.settings.model, batch=False)] if answer.status in CACHEABLE else []
        )
        await self.store.commit(Write(answers=answers, ledger=[row]))
        if answer.status == "failed":
            self._count_failure(answer.error or "failed")
        else:
            self._failures_in_row = 0

    # -- failures ------------------------------------------------------------------------------------

    def _classify(self, outcome: _Outcome) -> tuple[str, str, bool]:
        """(ledger status, scrubbed message, retry?) for an attempt that produced no usable answer."""
        if outcome.http_status is None:
            return "failed", self._scrub(outcome.transport_error or "no response"), True
        if outcome.http_status == 200:
            return "failed", "HTTP 200 with an unreadable body", True
        error = (parse_json(outcome.content) or {}).get("error")
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or error.get("type") or "")
        text = str(error.get("message") or outcome.content[:200].decode(errors="replace"))
        message = self._scrub(
            f"HTTP {outcome.http_status}" + (f" {code}" if code else "") + f": {text[:300]}"
        )
        if code in CONTENT_FILTER_CODES:
            return "content_filter", message, False
        if outcome.http_status == 429 and code == "insufficient_quota":
            return "failed", message, False
        return "failed", message, retryable_status(outcome.http_status)

    def _count_failure(self, message: str, fatal: bool = False) -> None:
        self.stats.failures += 1
        self._failures_in_row += 1
        if fatal or self._failures_in_row >= self.settings.breaker_threshold:
            self._circuit_open = (
                f"{self._where()}: circuit open after {self._failures_in_row} consecutive failed request(s); "
                f"last error: {message}"
            )

    def _fail(self, message: str, attempts: int, began: float, fatal: bool = False) -> LLMFailure:
        self._count_failure(message, fatal)
        return LLMFailure(
            f"{self._where()}: request failed after {attempts} attempt(s) in {time.monotonic() - began:.1f} s; "
            f"last error: {message}"
        )

    def _where(self) -> str:
        """The endpoint without credentials or query string (some proxies take keys as parameters)."""
        return f"LLM endpoint {self.endpoint.split('?')[0]} (model {self.settings.model})"

    def _scrub(self, text: str) -> str:
        """Error text may echo credentials (OpenAI's 401 quotes part of the key): never let it through."""
        key = self.settings.api_key
        if key:
            text = text.replace(key, "***")
        return _SECRET.sub(r"\1***", text)

    # -- ledger ----------------------------------------------------------------------------------------

    def _ledger_row(
        self,
        tag: str,
        key: str,
        status: str,
        http_status: int | None,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float,
        latency: float,
        attempt: int,
        *,
        cache_hit: bool = False,
        batch: bool = False,
        error: str | None = None,
    ) -> tuple:
        return (
            self.run_id,
            self.run_label,
            key,
            tag,
            self.settings.model,
            status,
            http_status,
            prompt_tokens,
            completion_tokens,
            cost,
            latency,
            attempt,
            int(cache_hit),
            int(batch),
            time.time(),
            error,
        )

    def rollup(self) -> dict:
        """This run's figures for Dagster metadata."""
        return self.stats.rollup()

    # -- Batch API ------------------------------------------------------------------------------------

    async def complete_batch(self, requests: list[ChatRequest]) -> list[ChatResult]:
        """The same answers as `complete`, through the OpenAI Batch API at the batch price (see batch.py)."""
        return await BatchRunner(self).run(requests)


def _limiter_name(endpoint: str, model: str) -> str:
    return hashlib.sha256(f"{endpoint}\n{model}".encode()).hexdigest()[:20]

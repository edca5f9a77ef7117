"""The engine's value types: what callers send (`ChatRequest`), get back (`ChatResult`) and configure.

They are plain frozen dataclasses so task code can build, compare and log them without importing the
engine, and so the cache key is a pure function of a request and the endpoint it is sent to.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import orjson

from svit_assets.llm.pricing import DEFAULT_PRICES, Prices

OPENAI_BASE_URL = "https://api.openai.com/v1"
Status = Literal["ok", "length", "content_filter", "failed"]


class LLMFailure(RuntimeError):
    """The endpoint keeps failing (or refuses our credentials): the partition should stop, not hang."""


class BudgetExceeded(RuntimeError):
    """Sending these requests would spend more than `LLMSettings.budget_usd`; nothing was sent."""


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion. `tag` (e.g. "conversation:1234") is for the ledger only, never the cache key;
    `sample_index` tells apart deliberate repeats of one prompt, which must not share a cached answer."""

    messages: tuple[dict, ...]
    response_format: dict | None = None
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int | None = None
    sample_index: int = 0
    tag: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.messages, tuple):
            object.__setattr__(self, "messages", tuple(self.messages))
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {self.max_tokens}")

    def key(self, endpoint: str, model: str) -> str:
        """sha256 of the canonical JSON of everything that can change the answer (and nothing else)."""
        canonical = {
            "endpoint": endpoint,
            "model": model,
            "messages": self.messages,
            "response_format": self.response_format,
            "temperature": float(self.temperature),
            "top_p": float(self.top_p),
            "max_tokens": int(self.max_tokens),
            "seed": self.seed,
            "sample_index": int(self.sample_index),
        }
        return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def body(self, model: str, max_tokens_param: str = "max_tokens") -> dict:
        """The `/chat/completions` JSON body (sample_index and tag stay on our side)."""
        body: dict = {
            "model": model,
            "messages": list(self.messages),
            "temperature": self.temperature,
            "top_p": self.top_p,
            max_tokens_param: self.max_tokens,
        }
        if self.seed is not None:
            body["seed"] = self.seed
        if self.response_format is not None:
            body["response_format"] = self.response_format
        return body

    def with_max_tokens(self, max_tokens: int) -> ChatRequest:
        return replace(self, max_tokens=max_tokens)


@dataclass(frozen=True)
class ChatResult:
    """What `complete` returns. `content` is the model's text or None; error text only ever goes to `error`.

    `key` is the cache key of the answer (after a "length" escalation, the key of the larger request);
    tokens and cost are what producing this answer cost (also when served from the cache, so re-runs
    produce identical records); `cached` says whether it was free this time.
    """

    key: str
    status: Status
    content: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cached: bool
    attempts: int
    latency_s: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _env_number(name: str, cast: type) -> float | int | None:
    value = os.environ.get(name, "").strip()
    return cast(value) if value else None


@dataclass(frozen=True)
class LLMSettings:
    """How to reach the endpoint and how hard to push it.

    The API key is never stored: `api_key` reads the environment variable named by `api_key_env` when the
    client is opened, so no repr, pickle, log line or Dagster metadata can carry it.
    """

    model: str = "gpt-4o-mini"
    base_url: str | None = None
    timeout_s: float = 60.0
    max_attempts: int = 6
    max_concurrency: int = 32
    rpm: int | None = None
    tpm: int | None = None
    prices: Prices = field(default_factory=lambda: dict(DEFAULT_PRICES))
    batch_discount: float = 0.5
    budget_usd: float | None = None
    api_key_env: str = "OPENAI_API_KEY"
    # "json_schema" (strict schemas; falls back to json_object where an endpoint refuses them), "json_object",
    # or "none": grammar-constrained JSON costs seconds per token in llama-cpp-python on a CPU.
    structured_output: str = "json_schema"
    batch_mode: bool = False  # task generation sends its first round through the Batch API (half price)
    # Bounds that keep a sick endpoint from hanging a partition.
    request_deadline_s: float = 600.0  # all attempts and waits of one request
    breaker_threshold: int = 10  # this many consecutive failed requests open the circuit
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_tokens_cap: int = 16384  # a "length" answer is re-asked once with min(2 × max_tokens, cap)
    max_tokens_param: str = "max_tokens"  # "max_completion_tokens" for models that reject max_tokens
    # Batch API mode.
    batch_poll_interval_s: float = 30.0
    batch_max_requests: int = 50_000
    batch_max_bytes: int = 200 * 1024 * 1024
    batch_max_rounds: int = 3
    batch_completion_window: str = "24h"

    @classmethod
    def from_env(cls, **overrides: object) -> LLMSettings:
        """`OPENAI_BASE_URL`, `SVIT_LLM_MODEL`, `SVIT_LLM_{RPM,TPM,BUDGET_USD,MAX_CONCURRENCY,TIMEOUT_S,
        MAX_ATTEMPTS}`, `SVIT_LLM_STRUCTURED_OUTPUT`, `SVIT_LLM_BATCH` and `SVIT_LLM_PRICES` (JSON: model -> [input, output] $
        per 1M tokens)."""
        values: dict[str, object] = {}
        if os.environ.get("SVIT_LLM_MODEL"):
            values["model"] = os.environ["SVIT_LLM_MODEL"]
        if os.environ.get("OPENAI_BASE_URL"):
            values["base_url"] = os.environ["OPENAI_BASE_URL"]
        for name, env, cast in (
            ("rpm", "SVIT_LLM_RPM", int),
            ("tpm", "SVIT_LLM_TPM", int),
            ("budget_usd", "SVIT_LLM_BUDGET_USD", float),
            ("max_concurrency", "SVIT_LLM_MAX_CONCURRENCY", int),
            ("timeout_s", "SVIT_LLM_TIMEOUT_S", float),
            ("max_attempts", "SVIT_LLM_MAX_ATTEMPTS", int),
        ):
            number = _env_number(env, cast)
            if number is not None:
                values[name] = number
        if os.environ.get("SVIT_LLM_BATCH"):
            values["batch_mode"] = os.environ["SVIT_LLM_BATCH"].lower() in ("1", "true", "yes")
        if os.environ.get("SVIT_LLM_STRUCTURED_OUTPUT"):
            values["structured_output"] = os.environ["SVIT_LLM_STRUCTURED_OUTPUT"]
        if os.environ.get("SVIT_LLM_PRICES"):
            extra = json.loads(os.environ["SVIT_LLM_PRICES"])
            values["prices"] = {**DEFAULT_PRICES, **{m: (float(p[0]), float(p[1])) for m, p in extra.items()}}
        values.update(overrides)
        return cls(**values)

    @property
    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None

    @property
    def configured(self) -> bool:
        """False when there is neither a key nor a base URL: callers then use the offline generator."""
        return bool(self.base_url or self.api_key)

    @property
    def endpoint(self) -> str:
        """The base URL as it enters cache keys: no credentials, no trailing slash."""
        parts = urlsplit((self.base_url or OPENAI_BASE_URL).strip())
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme.lower(), host.lower(), parts.path.rstrip("/"), parts.query, ""))

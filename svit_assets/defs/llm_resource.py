"""`LLMResource`: the Dagster face of the LLM engine; every field falls back to the environment.

The API key is deliberately not a field: config values show up in the launchpad, run records and
resource reprs, so the resource only names the environment variable that holds the key
(`api_key_env`, default `OPENAI_API_KEY`) and the engine reads it when it opens its client. We do not
use dagster-openai: its `get_client(context)` wraps the client anew per call and over-counts usage; the
engine opens one `AsyncOpenAI` client per partition run and keeps its own ledger.
"""

from __future__ import annotations

from dataclasses import replace

import dagster as dg
from pydantic import Field

from svit_assets.home import Home
from svit_assets.llm import LLMEngine, LLMSettings


class LLMResource(dg.ConfigurableResource):
    """An OpenAI-compatible chat endpoint. Unset fields come from `LLMSettings.from_env()`."""

    model: str | None = Field(default=None, description="Model name; default $SVIT_LLM_MODEL or gpt-4o-mini.")
    base_url: str | None = Field(
        default=None, description="Endpoint base URL (…/v1); default $OPENAI_BASE_URL or OpenAI's."
    )
    api_key_env: str = Field(
        default="OPENAI_API_KEY", description="Name of the environment variable holding the API key."
    )
    timeout_s: float | None = Field(default=None, description="Per-attempt HTTP timeout in seconds.")
    max_attempts: int | None = Field(default=None, description="Attempts per request (429/5xx/timeouts).")
    max_concurrency: int | None = Field(default=None, description="Requests in flight per partition run.")
    rpm: int | None = Field(default=None, description="Requests per minute, shared by all processes.")
    tpm: int | None = Field(default=None, description="Tokens per minute, shared by all processes.")
    prices: dict[str, list[float]] | None = Field(
        default=None, description="Extra prices: model -> [input, output] $ per 1M tokens."
    )
    batch_discount: float | None = Field(default=None, description="Batch API price factor (0.5).")
    budget_usd: float | None = Field(default=None, description="Refuse to spend past this total ($).")
    structured_output: str | None = Field(
        default=None, description="json_schema (default), json_object or none: the most the endpoint is asked for."
    )
    batch_mode: bool | None = Field(
        default=None, description="Send first-round requests through the OpenAI Batch API (half price, hours)."
    )

    def settings(self) -> LLMSettings:
        base = LLMSettings.from_env(api_key_env=self.api_key_env)
        overrides: dict[str, object] = {
            name: value
            for name in (
                "model",
                "base_url",
                "timeout_s",
                "max_attempts",
                "max_concurrency",
                "rpm",
                "tpm",
                "batch_discount",
                "budget_usd",
                "structured_output",
                "batch_mode",
            )
            if (value := getattr(self, name)) is not None
        }
        if self.prices:
            overrides["prices"] = {
                **base.prices,
                **{m: (float(p[0]), float(p[1])) for m, p in self.prices.items()},
            }
        return replace(base, **overrides)

    @property
    def configured(self) -> bool:
        """False when neither a key nor a base URL is set: the tasks use the offline generator."""
        return self.settings().configured

    def open_engine(self, home: Home, run_label: str) -> LLMEngine:
        """A fresh engine for one partition run; use it as `async with resource.open_engine(...) as engine:`."""
        return LLMEngine(self.settings(), home, run_label=run_label)

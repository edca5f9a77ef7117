"""What a chat-completion response means, shared by the streaming engine and Batch API mode.

Both paths must turn the same response body into the same cached answer and the same `ChatResult`,
or a batch re-run and an online re-run of one partition would disagree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import orjson

from svit_assets.llm.pricing import Prices, cost_usd
from svit_assets.llm.tokens import count_text
from svit_assets.llm.types import ChatResult

CACHEABLE = ("ok", "length")  # only these are stored as reusable answers
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 520, 522, 524, 529})
FATAL_STATUS = frozenset({401, 403})  # nothing else will work either: stop the partition
CONTENT_FILTER_CODES = frozenset({"content_filter", "content_policy_violation", "content_filtered"})


@dataclass(frozen=True)
class Answer:
    """A model answer as cached (status "ok" or "length"), or an outcome that is only reported."""

    status: str
    content: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    error: str | None = None


def retryable_status(status: int | None) -> bool:
    """None is a transport failure (timeout, dropped connection): always worth another try."""
    return status is None or status in RETRYABLE_STATUS or status >= 500


def parse_json(content: bytes) -> dict | None:
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def first_choice(payload: dict) -> dict | None:
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


def read_answer(
    payload: dict, prices: Prices, model: str, prompt_estimate: Callable[[], int], discount: float = 1.0
) -> Answer:
    """Status, text, tokens and cost of a 200 response (`payload` must have a choice). Servers that
    report no `usage` are charged our estimates (computed only then: tokenizing is not free)."""
    choice = first_choice(payload) or {}
    content = (choice.get("message") or {}).get("content")
    finish = choice.get("finish_reason")
    usage = payload.get("usage") or {}
    prompt_tokens = usage.get("prompt_tokens")
    if not isinstance(prompt_tokens, int):
        prompt_tokens = prompt_estimate()
    completion_tokens = usage.get("completion_tokens")
    if not isinstance(completion_tokens, int):
        completion_tokens = count_text(content) if isinstance(content, str) else 0
    cost = cost_usd(prices, model, prompt_tokens, completion_tokens, discount)
    if finish == "content_filter":
        return Answer(
            "content_filter", None, finish, prompt_tokens, completion_tokens, cost, "filtered by the provider"
        )
    if not isinstance(content, str):
        return Answer(
            "failed", None, finish, prompt_tokens, completion_tokens, cost, "the answer has no text content"
        )
    return Answer(
        "length" if finish == "length" else "ok", content, finish, prompt_tokens, completion_tokens, cost
    )


def answer_row(key: str, answer: Answer, model: str, batch: bool) -> tuple:
    """The `answers` table row (see store.ANSWER_COLUMNS)."""
    return (
        key,
        answer.status,
        answer.content,
        answer.finish_reason,
        answer.prompt_tokens,
        answer.completion_tokens,
        answer.cost_usd,
        model,
        int(batch),
        time.time(),
    )


def combined(first: Answer, second: Answer) -> Answer:
    """The re-asked answer, carrying the tokens and cost of the truncated one it replaces."""
    return replace(
        second,
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        cost_usd=first.cost_usd + second.cost_usd,
    )


def to_result(key: str, answer: Answer, attempts: int, latency: float) -> ChatResult:
    readable = answer.status in CACHEABLE
    return ChatResult(
        key=key,
        status=answer.status,  # type: ignore[arg-type]
        content=answer.content if readable else None,
        finish_reason=answer.finish_reason,
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        cost_usd=answer.cost_usd,
        cached=attempts == 0,
        attempts=attempts,
        latency_s=latency,
        error=None if readable else answer.error,
    )

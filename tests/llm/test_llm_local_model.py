"""The engine against a real OpenAI-compatible server: llama.cpp with SmolLM2-135M (skipped when absent)."""

from __future__ import annotations

import asyncio

import pytest

from svit_assets.llm import ChatRequest, LLMEngine, LLMSettings

pytestmark = pytest.mark.integration


def test_llama_cpp_answers_are_cached_and_free(llama_server, home):
    settings = LLMSettings(
        model="smollm2-135m-instruct", base_url=llama_server, timeout_s=120, max_concurrency=2
    )
    requests = [
        ChatRequest(
            messages=({"role": "user", "content": f"Name a colour. ({i})"},),
            max_tokens=16,
            temperature=0.0,
            seed=1,
        )
        for i in range(2)
    ]

    async def run():
        async with LLMEngine(settings, home, run_label="local/model") as engine:
            return await asyncio.gather(*(engine.complete(r) for r in requests)), engine

    first, engine = asyncio.run(run())
    assert all(r.status in ("ok", "length") and r.content for r in first)
    assert all(r.prompt_tokens > 0 and r.completion_tokens > 0 and r.cost_usd == 0.0 for r in first)
    assert engine.rollup()["requests_sent"] >= 2
    again, engine = asyncio.run(run())
    assert engine.rollup()["requests_sent"] == 0
    assert [r.content for r in again] == [r.content for r in first]

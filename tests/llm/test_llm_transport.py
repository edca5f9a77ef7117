"""The engine's wire under the official client (transport.py) and its garbage-collector setting."""

from __future__ import annotations

import asyncio
import gc
import gzip
import socket

import httpx2
import openai
import pytest
from aiohttp import web

from svit_assets.llm import LLMEngine
from svit_assets.llm.transport import AiohttpTransport


async def _serve(handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/v1"


def _client(base_url: str, timeout: float = 5.0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key="test-key",
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(transport=AiohttpTransport(4), timeout=timeout),
    )


def test_responses_pass_through_the_sdk_decoded_with_their_headers():
    async def handler(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer test-key"  # the SDK's headers reach the wire
        body = gzip.compress(await request.read())
        return web.Response(
            body=body, headers={"Content-Encoding": "gzip", "x-ratelimit-limit-requests": "60"}
        )

    async def scenario() -> httpx2.Response:
        runner, base_url = await _serve(handler)
        async with _client(base_url) as client:
            response = await client.post("/chat/completions", content=b'{"echo": 1}', cast_to=httpx2.Response)
        await runner.cleanup()
        return response

    response = asyncio.run(scenario())
    assert response.status_code == 200 and response.content == b'{"echo": 1}'
    assert response.headers["x-ratelimit-limit-requests"] == "60"


def test_failures_become_the_sdks_exceptions():
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    async def scenario() -> None:
        runner, base_url = await _serve(slow)
        async with _client(base_url, timeout=0.2) as client:
            with pytest.raises(openai.APITimeoutError):
                await client.post("/chat/completions", content=b"{}", cast_to=httpx2.Response)
        await runner.cleanup()
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
        async with _client(closed) as client:
            with pytest.raises(openai.APIConnectionError):
                await client.post("/chat/completions", content=b"{}", cast_to=httpx2.Response)

    asyncio.run(scenario())


def test_open_engines_collect_garbage_rarely_and_the_last_one_restores_the_setting(kit):
    before = gc.get_threshold()

    async def scenario() -> tuple[tuple, tuple]:
        async with LLMEngine(kit.settings(), kit.home):
            async with LLMEngine(kit.settings(), kit.home):
                both = gc.get_threshold()
            one = gc.get_threshold()
        return both, one

    both, one = asyncio.run(scenario())
    assert both[0] >= 10_000 and one == both
    assert gc.get_threshold() == before

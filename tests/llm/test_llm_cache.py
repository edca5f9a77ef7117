"""Never pay twice: the content-addressed cache, in-flight sharing and durability before return."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace

from svit_assets.llm import ChatRequest, LLMEngine


def test_rerun_sends_nothing_and_returns_the_same_results(kit):
    requests = kit.requests(20)
    first, _ = kit.run(requests)
    assert kit.chat_calls() == 20
    assert all(r.status == "ok" and not r.cached and r.attempts == 1 for r in first)
    assert [r.content for r in first] == [f"Echo: question {i}" for i in range(20)]

    second, engine = kit.run(requests)
    assert kit.chat_calls() == 20  # nothing new
    assert engine.rollup()["requests_sent"] == 0 and engine.rollup()["cache_hits"] == 20
    assert all(r.cached and r.attempts == 0 for r in second)

    def comparable(result):
        return replace(result, cached=False, attempts=0, latency_s=0.0)

    assert [comparable(r) for r in second] == [comparable(r) for r in first]


def test_only_the_changed_request_is_sent(kit):
    requests = kit.requests(10)
    kit.run(requests)
    changed = list(requests)
    changed[3] = replace(changed[3], temperature=0.2)
    changed[7] = replace(changed[7], tag="another:tag")  # the tag is not part of the key
    _, engine = kit.run(changed)
    assert kit.chat_calls() == 11
    assert engine.rollup()["requests_sent"] == 1 and engine.rollup()["cache_hits"] == 9


def test_key_covers_what_changes_the_answer_and_nothing_else():
    url = "http://127.0.0.1:1/v1"
    base = ChatRequest(messages=({"role": "user", "content": "hi"},))
    key = base.key(url, "m")
    assert key == ChatRequest(messages=[{"role": "user", "content": "hi"}], tag="x").key(url, "m")
    assert key == replace(base, temperature=0.7000).key(url, "m")
    variants = [
        replace(base, temperature=0.1),
        replace(base, top_p=0.5),
        replace(base, max_tokens=99),
        replace(base, seed=1),
        replace(base, sample_index=1),
        replace(base, response_format={"type": "json_object"}),
        replace(base, messages=({"role": "user", "content": "hi!"},)),
    ]
    keys = {v.key(url, "m") for v in variants} | {base.key(url, "other-model"), base.key("http://x/v1", "m")}
    assert key not in keys and len(keys) == len(variants) + 2


def test_endpoint_in_the_key_has_no_credentials_or_trailing_slash(kit):
    plain = kit.settings(base_url="http://127.0.0.1:8000/v1/")
    with_user = kit.settings(base_url="http://user:pass@127.0.0.1:8000/v1")
    assert plain.endpoint == with_user.endpoint == "http://127.0.0.1:8000/v1"


def test_identical_requests_in_flight_share_one_call(kit):
    kit.server.configure(latency_ms=50)
    results, engine = kit.run(kit.requests(1) * 10)
    assert kit.chat_calls() == 1
    assert {r.content for r in results} == {"Echo: question 0"}
    assert sum(not r.cached for r in results) == 1
    hits = kit.rows("SELECT count(*) FROM ledger WHERE cache_hit = 1 AND run_id = ?", (engine.run_id,))
    assert hits == [(9,)]


def test_answer_is_committed_before_complete_returns(kit):
    async def scenario() -> None:
        async with LLMEngine(kit.settings(), kit.home) as engine:
            result = await engine.complete(kit.requests(1)[0])
            # a separate connection (as another process would) already finds the answer and its ledger row
            with sqlite3.connect(kit.home.llm_dir / "llm.sqlite3") as conn:
                stored = conn.execute("SELECT content FROM answers WHERE key = ?", (result.key,)).fetchone()
                paid = conn.execute("SELECT cost_usd FROM ledger WHERE key = ?", (result.key,)).fetchall()
            assert stored == (result.content,)
            assert paid == [(result.cost_usd,)]

    asyncio.run(scenario())


def test_engines_writing_at_once_lose_nothing_and_never_see_locks(kit):
    settings = kit.settings()
    requests = kit.requests(150)

    async def scenario():
        engines = [LLMEngine(settings, kit.home, run_label=f"p/{i}") for i in range(3)]
        for engine in engines:
            await engine.__aenter__()
        try:
            return await asyncio.gather(*(e.complete(r) for e in engines for r in requests))
        finally:
            for engine in engines:
                await engine.aclose()

    results = asyncio.run(scenario())
    assert all(r.status == "ok" for r in results)
    assert kit.rows("SELECT count(*) FROM answers") == [(150,)]
    assert kit.rows("SELECT count(*) FROM ledger") == [(450,)]

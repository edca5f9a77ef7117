"""Ledger rows for every attempt and cache hit, the Parquet export, rollups, budgets and secrets."""

from __future__ import annotations

import asyncio
import os
import signal

import duckdb
import pytest

from svit_assets.llm import BudgetExceeded, LLMEngine, LLMFailure
from svit_assets.llm.pricing import cost_usd, price_for
from svit_assets.testing.openai_server import Fault

SECRET = "sk-proj-THISISASECRETKEY0123456789"


def test_every_attempt_and_cache_hit_is_a_ledger_row_exported_to_parquet(kit):
    kit.server.configure(schedule=[{"fault": Fault.HTTP_500, "first_n": 2}])
    requests = kit.requests(3)
    first, engine1 = kit.run(requests, label="conversation/b00000001-00001000")
    _, engine2 = kit.run(requests, label="conversation/b00000001-00001000")

    assert engine1.ledger_file.name.startswith("conversation_b00000001-00001000-")
    files = sorted((kit.home.llm_dir / "ledger").glob("*.parquet"))
    assert files == sorted([engine1.ledger_file, engine2.ledger_file])
    glob = str(kit.home.llm_dir / "ledger" / "*.parquet")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW llm_ledger AS SELECT * FROM read_parquet('{glob}')")
    rows = con.execute(
        "SELECT run_id, status, http_status, cache_hit, batch, attempt, tag, model, run_label "
        "FROM llm_ledger ORDER BY ts"
    ).fetchall()
    first_run = [r for r in rows if r[0] == engine1.run_id]
    second_run = [r for r in rows if r[0] == engine2.run_id]
    assert sorted(r[2] for r in first_run) == [200, 200, 200, 500, 500]  # 2 failed attempts + 3 answers
    assert all(r[3] and r[2] is None and r[1] == "ok" for r in second_run) and len(second_run) == 3
    assert {r[6] for r in rows} == {"test:0", "test:1", "test:2"}
    assert {r[7] for r in rows} == {"gpt-4o-mini"} and {r[8] for r in rows} == {
        "conversation/b00000001-00001000"
    }
    total = con.execute(
        "SELECT sum(cost_usd), sum(prompt_tokens), sum(completion_tokens) FROM llm_ledger"
    ).fetchone()
    assert total[0] == pytest.approx(sum(r.cost_usd for r in first))
    assert total[1:] == (sum(r.prompt_tokens for r in first), sum(r.completion_tokens for r in first))
    kinds = dict(con.execute("DESCRIBE llm_ledger").fetchall()[i][:2] for i in range(16))
    assert (
        kinds["ts"].startswith("TIMESTAMP")
        and kinds["cache_hit"] == "BOOLEAN"
        and kinds["cost_usd"] == "DOUBLE"
    )


def test_rollup_figures(kit):
    kit.server.configure(schedule=[{"fault": Fault.HTTP_429, "first_n": 1}], retry_after_ms=10)
    requests = kit.requests(5)
    results, engine = kit.run(requests + requests[:2])
    rollup = engine.rollup()
    assert rollup["requests_sent"] == 6 and rollup["rate_limited_429"] == 1 and rollup["retries"] == 1
    assert rollup["cache_hits"] == 2 and rollup["failures"] == 0
    assert rollup["prompt_tokens"] == sum(r.prompt_tokens for r in results[:5])
    assert rollup["completion_tokens"] == sum(r.completion_tokens for r in results[:5])
    assert rollup["cost_usd"] == pytest.approx(sum(r.cost_usd for r in results[:5]), abs=1e-6)
    assert 0 < rollup["latency_p50_s"] <= rollup["latency_p95_s"]
    expected = cost_usd(
        {"gpt-4o-mini": (0.15, 0.6)}, "gpt-4o-mini", results[0].prompt_tokens, results[0].completion_tokens
    )
    assert results[0].cost_usd == pytest.approx(expected)


def test_prices_match_dated_model_names():
    prices = {"gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6)}
    assert price_for(prices, "gpt-4o-mini-2024-07-18") == (0.15, 0.6)
    assert price_for(prices, "gpt-4o-2024-08-06") == (2.5, 10.0)
    assert price_for(prices, "smollm2-135m-instruct") == (0.0, 0.0)


def test_a_killed_run_is_exported_by_the_next_engine(kit, spawn):
    code = (
        "import asyncio, os, sys\n"
        "from pathlib import Path\n"
        "from svit_assets.home import Home\n"
        "from svit_assets.llm import ChatRequest, LLMEngine, LLMSettings\n"
        "async def main():\n"
        "    engine = LLMEngine(LLMSettings(base_url=sys.argv[1]), Home(Path(sys.argv[2])), run_label='killed/run')\n"
        "    async with engine:\n"
        "        await engine.complete(ChatRequest(messages=({'role': 'user', 'content': 'x'},)))\n"
        "        print('answered', flush=True)\n"
        "        await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    process = spawn(code, kit.server.base_url, str(kit.home.root))
    assert process.stdout.readline().strip() == "answered"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not list((kit.home.llm_dir / "ledger").glob("killed_run-*.parquet"))
    kit.run(kit.requests(1))
    orphan = list((kit.home.llm_dir / "ledger").glob("killed_run-*.parquet"))
    assert len(orphan) == 1
    assert duckdb.connect().execute(f"SELECT count(*) FROM '{orphan[0]}'").fetchone() == (1,)


def test_budget_refuses_before_sending_anything(kit):
    requests = kit.requests(100, max_tokens=1000)
    settings = kit.settings(budget_usd=0.01)  # 100 × 1000 completion tokens at $0.60/1M = $0.06

    async def scenario():
        async with LLMEngine(settings, kit.home) as engine:
            assert engine.estimate_cost(requests) == pytest.approx(0.06, rel=0.05)
            with pytest.raises(BudgetExceeded, match=r"\$0\.01 budget") as refusal:
                engine.ensure_budget(requests)
            engine.ensure_budget(requests[:10])  # $0.006 fits
        return str(refusal.value)

    message = asyncio.run(scenario())
    assert kit.chat_calls() == 0
    assert "already spent" in message and "gpt-4o-mini" in message


def test_budget_counts_spend_of_earlier_runs_and_skips_cached_requests(kit):
    requests = kit.requests(10, max_tokens=1000)
    _, first = kit.run(requests[:5])
    spent = first.rollup()["cost_usd"]
    assert spent > 0
    settings = kit.settings(budget_usd=spent + 0.003)

    async def scenario():
        async with LLMEngine(settings, kit.home) as engine:
            cached_only = engine.estimate_cost(requests[:5])
            engine.ensure_budget(requests[:5])  # all cached: free
            with pytest.raises(BudgetExceeded):
                engine.ensure_budget(
                    requests
                )  # 5 new × 1000 tokens × $0.6/1M = $0.003 + prompts > what's left
            return cached_only

    assert asyncio.run(scenario()) == 0.0


def test_spending_stops_at_the_budget_even_without_ensure_budget(kit):
    settings = kit.settings(budget_usd=1e-5, max_concurrency=1, prices={"gpt-4o-mini": (1000.0, 1000.0)})
    with pytest.raises(BudgetExceeded, match="used up"):
        kit.run(kit.requests(5), settings)
    assert kit.chat_calls() == 1


def test_the_api_key_never_leaks(kit, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    kit.server.configure(api_key="something-else")
    settings = kit.settings()
    assert SECRET not in repr(settings) and settings.api_key == SECRET

    async def scenario():
        async with LLMEngine(settings, kit.home) as engine:
            assert (
                engine._scrub(f"Incorrect API key provided: {SECRET}.") == "Incorrect API key provided: ***."
            )
            assert engine._scrub("key sk-abcdefghijklmnop leaked") == "key sk-ab*** leaked"
            with pytest.raises(LLMFailure) as failure:
                await engine.complete(kit.requests(1)[0])
        return failure.value, engine

    failure, engine = asyncio.run(scenario())
    assert SECRET not in str(failure) and SECRET not in repr(engine.__dict__)
    assert kit.rows("SELECT count(*) FROM ledger WHERE http_status = 401") == [(1,)]
    for path in kit.home.root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path

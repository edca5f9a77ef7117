"""Batch API mode: splitting, batch price, crash-resume of polling, partial output and bounded rounds."""

from __future__ import annotations

import asyncio

import pytest

from svit_assets.llm import LLMEngine
from svit_assets.llm.batch import BatchRunner
from svit_assets.llm.pricing import cost_usd
from svit_assets.testing.openai_server import Fault

BATCHES = "/v1/batches"


def batches_created(kit) -> int:
    return kit.server.stats()["by_path"].get(BATCHES, 0)


def run_batch(kit, requests, settings=None, label="test/batch"):
    async def scenario():
        async with LLMEngine(settings or kit.settings(), kit.home, run_label=label) as engine:
            return await engine.complete_batch(requests), engine

    return asyncio.run(scenario())


def test_batch_mode_answers_like_complete_at_half_price(kit):
    requests = kit.requests(12)
    results, engine = run_batch(kit, requests)
    assert batches_created(kit) == 1 and kit.chat_calls() == 0
    assert [r.content for r in results] == [f"Echo: question {i}" for i in range(12)]
    assert all(r.status == "ok" and not r.cached for r in results)
    full = cost_usd(
        engine.settings.prices, "gpt-4o-mini", results[0].prompt_tokens, results[0].completion_tokens
    )
    assert results[0].cost_usd == pytest.approx(full * 0.5)
    rows = kit.rows("SELECT batch, cost_usd, status FROM ledger WHERE run_id = ?", (engine.run_id,))
    assert len(rows) == 12 and all(batch == 1 and status == "ok" for batch, _, status in rows)
    assert engine.rollup()["batch_requests"] == 12 and engine.rollup()["requests_sent"] == 12

    # the same cache serves both modes: nothing is asked again, online or in batch
    again, _ = kit.run(requests)
    assert kit.chat_calls() == 0 and all(r.cached for r in again)
    assert [r.content for r in again] == [r.content for r in results]
    rerun, engine = run_batch(kit, requests)
    assert batches_created(kit) == 1 and engine.rollup()["requests_sent"] == 0
    assert all(r.cached for r in rerun)


def test_files_are_split_by_count_and_size(kit):
    requests = kit.requests(10)
    _, engine = run_batch(kit, requests, kit.settings(batch_max_requests=3))
    assert batches_created(kit) == 4
    assert kit.rows("SELECT requests FROM batch_jobs ORDER BY requests") == [(1,), (3,), (3,), (3,)]

    async def sizes():
        async with LLMEngine(kit.settings(batch_max_bytes=600), kit.home) as e:
            files = BatchRunner(e).split([(e.key_for(r), r) for r in kit.requests(10, prefix="other")])
            return [sum(len(line) for *_, line in f) for f in files], [len(f) for f in files]

    byte_sizes, counts = asyncio.run(sizes())
    assert max(byte_sizes) <= 600 and sum(counts) == 10 and len(counts) > 1


def test_polling_resumes_after_a_crash_without_resubmitting(kit):
    kit.server.configure(batch_polls=3)
    requests = kit.requests(8)

    async def crash_while_polling():
        engine = LLMEngine(kit.settings(batch_poll_interval_s=30), kit.home)
        await engine.__aenter__()
        task = asyncio.create_task(engine.complete_batch(requests))
        while not kit.rows("SELECT batch_id FROM batch_jobs"):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()  # the process "dies" mid-poll: the batch id is already on disk
        with pytest.raises(asyncio.CancelledError):
            await task
        await engine.aclose()

    asyncio.run(crash_while_polling())
    assert batches_created(kit) == 1
    assert kit.rows("SELECT ingested FROM batch_jobs") == [(0,)]

    results, engine = run_batch(kit, requests)
    assert batches_created(kit) == 1  # found and polled, not submitted again
    assert [r.content for r in results] == [f"Echo: question {i}" for i in range(8)]
    assert kit.rows("SELECT ingested, status FROM batch_jobs") == [(1, "completed")]
    assert engine.rollup()["batch_requests"] == 0


@pytest.mark.parametrize("fault", ["expired", "failed"])
def test_partial_output_is_kept_and_only_the_rest_resubmitted(kit, fault):
    kit.server.configure(batch_faults=[fault], batch_fault_fraction=0.5)
    requests = kit.requests(10)
    results, engine = run_batch(kit, requests)
    assert batches_created(kit) == 2
    assert kit.server.stats()["batch_lines"] == 10  # 5 in the broken batch, the other 5 in the second
    assert kit.rows("SELECT requests FROM batch_jobs ORDER BY created") == [(10,), (5,)]
    assert all(r.status == "ok" for r in results)
    assert [r.content for r in results] == [f"Echo: question {i}" for i in range(10)]
    assert engine.rollup()["batch_requests"] == 15
    paid = kit.rows("SELECT count(*) FROM ledger WHERE batch = 1 AND status = 'ok'")
    assert paid == [(10,)]


def test_rounds_are_bounded(kit):
    kit.server.configure(batch_faults=["expired", "expired"], batch_fault_fraction=0.0)
    results, engine = run_batch(kit, kit.requests(4), kit.settings(batch_max_rounds=2))
    assert batches_created(kit) == 2
    assert all(r.status == "failed" and r.content is None and "2 round" in r.error for r in results)
    assert engine.rollup()["failures"] == 4


def test_batch_lines_are_classified_like_online_answers(kit):
    kit.server.script("question 1$", [Fault.HTTP_400])
    kit.server.script("question 2$", [Fault.CONTENT_FILTER])
    kit.server.script("question 3$", [Fault.LENGTH, "the long answer"])
    kit.server.script("question 4$", [Fault.HTTP_503, "after a server error"])
    results, _ = run_batch(kit, kit.requests(5, max_tokens=300))
    assert [r.status for r in results] == ["ok", "failed", "content_filter", "ok", "ok"]
    assert results[1].content is None and "400" in results[1].error
    assert results[3].content == "the long answer"  # re-asked once with max_tokens 600
    assert results[4].content == "after a server error"
    assert batches_created(kit) == 2
    second_round = [b for b in kit.rows("SELECT requests FROM batch_jobs ORDER BY created")]
    assert second_round == [(5,), (2,)]  # the 503 line and the larger re-ask of the truncated one

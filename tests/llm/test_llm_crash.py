"""`kill -9` at random moments, then a restart: only the requests in flight at each kill are paid again."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time

import pytest

from svit_assets.home import Home
from svit_assets.llm import ChatRequest, LLMEngine

WORKER = """
import asyncio, sys
from pathlib import Path
from svit_assets.home import Home
from svit_assets.llm import ChatRequest, LLMEngine, LLMSettings

async def main(base_url, home, count, concurrency):
    settings = LLMSettings(model="gpt-4o-mini", base_url=base_url, max_concurrency=int(concurrency))
    requests = [ChatRequest(messages=({"role": "user", "content": f"item {i}"},)) for i in range(int(count))]
    async with LLMEngine(settings, Home(Path(home)), run_label="crash/test") as engine:
        print("started", flush=True)
        results = await asyncio.gather(*(engine.complete(r) for r in requests))
    print("done", sum(r.cached for r in results), flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


def requests_like_worker(count: int) -> list[ChatRequest]:
    return [ChatRequest(messages=({"role": "user", "content": f"item {i}"},)) for i in range(count)]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_kill_9_and_restart_repays_only_in_flight_requests(kit, spawn, tmp_path, concurrency):
    count = 60 * concurrency
    kit.server.configure(latency_ms=8, jitter_ms=4)
    rng = random.Random(concurrency)
    args = (kit.server.base_url, str(kit.home.root), str(count), str(concurrency))
    kills = 0
    for _ in range(3):
        worker = spawn(WORKER, *args)
        assert worker.stdout.readline().strip() == "started"
        time.sleep(rng.uniform(0.05, 0.35))
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGKILL)
            kills += 1
        worker.wait()
    assert kills >= 2
    before_final = kit.server.stats()["chat_completions_ok"]
    assert 0 < before_final < count + kills * concurrency

    final = spawn(WORKER, *args)
    out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err
    cached_in_final = int(out.split()[-1])
    served = kit.server.stats()["chat_completions_ok"]
    assert served <= count + kills * concurrency  # each kill can lose at most the answers in flight
    assert served - before_final == count - cached_in_final  # the restart asked only what was missing
    assert kit.rows("SELECT count(*) FROM answers") == [(count,)]

    # the final cache equals a clean, uninterrupted run
    async def clean_run():
        clean = Home(tmp_path / "clean").ensure()
        async with LLMEngine(kit.settings(max_concurrency=concurrency), clean) as engine:
            return await asyncio.gather(*(engine.complete(r) for r in requests_like_worker(count)))

    clean = {r.key: (r.content, r.prompt_tokens, r.completion_tokens) for r in asyncio.run(clean_run())}
    crashed = {
        key: (content, prompt, completion)
        for key, content, prompt, completion in kit.rows(
            "SELECT key, content, prompt_tokens, completion_tokens FROM answers"
        )
    }
    assert crashed == clean

"""Fixtures for the LLM engine tests: a fake OpenAI server, an isolated home and quick settings.

Helpers come as the `kit` fixture (pytest runs with --import-mode=importlib, so tests cannot import
this conftest as a module).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from svit_assets.home import Home
from svit_assets.llm import ChatRequest, ChatResult, LLMEngine, LLMSettings
from svit_assets.testing.openai_server import FakeOpenAIServer, ServerConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHAT = "/v1/chat/completions"


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch):
    """Tests must never reach a real provider or read a developer's key."""
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "SVIT_LLM_MODEL",
        "SVIT_LLM_BUDGET_USD",
        "SVIT_LLM_PRICES",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with FakeOpenAIServer(ServerConfig(latency_ms=2)) as fake:
        yield fake


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path / "home").ensure()


class Kit:
    """Shortcuts shared by the tests: settings for the fake server, requests, runs and inspection."""

    def __init__(self, server: FakeOpenAIServer, home: Home):
        self.server = server
        self.home = home

    def settings(self, **overrides) -> LLMSettings:
        values = dict(
            model="gpt-4o-mini",
            base_url=self.server.base_url,
            timeout_s=5.0,
            max_concurrency=8,
            backoff_base_s=0.01,
            backoff_max_s=0.05,
            batch_poll_interval_s=0.01,
        )
        values.update(overrides)
        return LLMSettings(**values)

    @staticmethod
    def requests(count: int, prefix: str = "question", **fields) -> list[ChatRequest]:
        return [
            ChatRequest(messages=({"role": "user", "content": f"{prefix} {i}"},), tag=f"test:{i}", **fields)
            for i in range(count)
        ]

    async def complete_all(
        self, requests: list[ChatRequest], settings: LLMSettings | None = None, label: str = "test/run"
    ) -> tuple[list[ChatResult], LLMEngine]:
        async with LLMEngine(settings or self.settings(), self.home, run_label=label) as engine:
            results = await asyncio.gather(*(engine.complete(r) for r in requests))
        return list(results), engine

    def run(self, requests, settings=None, label="test/run") -> tuple[list[ChatResult], LLMEngine]:
        return asyncio.run(self.complete_all(requests, settings, label))

    def run_one(self, request: ChatRequest, settings=None) -> tuple[ChatResult, LLMEngine]:
        results, engine = self.run([request], settings)
        return results[0], engine

    def chat_calls(self) -> int:
        """Every chat-completion HTTP request the server saw (answered or failed)."""
        return self.server.stats()["by_path"].get(CHAT, 0)

    def chat_bodies(self) -> list[dict]:
        return [entry["body"] for entry in self.server.stats()["request_log"] if entry["path"] == CHAT]

    def rows(self, sql: str, params=()) -> list[tuple]:
        with sqlite3.connect(self.home.llm_dir / "llm.sqlite3") as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture
def kit(server, home) -> Kit:
    return Kit(server, home)


def python_process(code: str, *args: str) -> subprocess.Popen:
    """A separate interpreter running `code` with the project importable (for multi-process tests)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def spawn():
    """Starts helper interpreters and makes sure none outlives the test."""
    started: list[subprocess.Popen] = []

    def start(code: str, *args: str) -> subprocess.Popen:
        process = python_process(code, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()

"""`LLMResource` and `LLMSettings`: environment fallbacks, `configured`, and no secret in any repr."""

from __future__ import annotations

import asyncio
import pickle

import dagster as dg

from svit_assets.defs.llm_resource import LLMResource
from svit_assets.llm import ChatRequest, LLMEngine, LLMSettings

SECRET = "sk-proj-RESOURCESECRET0123456789"


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("SVIT_LLM_MODEL", "smollm2-135m-instruct")
    monkeypatch.setenv("SVIT_LLM_TPM", "30000")
    monkeypatch.setenv("SVIT_LLM_BUDGET_USD", "2.5")
    monkeypatch.setenv("SVIT_LLM_PRICES", '{"smollm2-135m-instruct": [0.01, 0.02]}')
    settings = LLMSettings.from_env()
    assert settings.model == "smollm2-135m-instruct" and settings.base_url == "http://127.0.0.1:8080/v1"
    assert settings.tpm == 30000 and settings.budget_usd == 2.5 and settings.rpm is None
    assert settings.prices["smollm2-135m-instruct"] == (0.01, 0.02) and "gpt-4o-mini" in settings.prices
    assert settings.configured  # a base URL is enough (local servers need no key)
    resource = LLMResource(model="other-model", rpm=60)
    merged = resource.settings()
    assert merged.model == "other-model" and merged.rpm == 60 and merged.tpm == 30000
    assert merged.base_url == "http://127.0.0.1:8080/v1"


def test_not_configured_without_key_or_base_url(monkeypatch):
    assert not LLMSettings.from_env().configured
    assert not LLMResource().configured
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert LLMResource().configured and LLMSettings.from_env().endpoint == "https://api.openai.com/v1"
    monkeypatch.setenv("MY_KEY", SECRET)
    assert LLMResource(api_key_env="MY_KEY").settings().api_key == SECRET


def test_the_key_is_in_no_repr_pickle_or_resource_config(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    resource = LLMResource(model="gpt-4o-mini")
    settings = resource.settings()
    assert settings.api_key == SECRET  # read at use time ...
    for text in (repr(resource), repr(settings), str(settings.__dict__), str(resource.model_dump())):
        assert SECRET not in text  # ... and never stored
    assert SECRET.encode() not in pickle.dumps(settings)


def test_the_resource_opens_an_engine_inside_an_asset(server, home):
    @dg.asset
    def answered(llm: LLMResource) -> str:
        async def ask() -> str:
            async with llm.open_engine(home, run_label="resource/test") as engine:
                assert isinstance(engine, LLMEngine)
                result = await engine.complete(
                    ChatRequest(messages=({"role": "user", "content": "from dagster"},))
                )
                return result.content

        return asyncio.run(ask())

    outcome = dg.materialize([answered], resources={"llm": LLMResource(base_url=server.base_url)})
    assert outcome.success and outcome.output_for_node("answered") == "Echo: from dagster"
    assert list((home.llm_dir / "ledger").glob("resource_test-*.parquet"))

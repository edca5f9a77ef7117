"""Tests of the fake OpenAI server itself: the engine's tests are only as good as this double."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Literal

import httpx
import openai
import pytest
from pydantic import BaseModel, Field

from svit_assets.testing import openai_server
from svit_assets.testing.openai_server import (
    FakeOpenAIServer,
    Fault,
    FaultSchedule,
    Reply,
    ServerConfig,
    estimate_tokens,
    format_duration,
    schema_instance,
)

USER = [{"role": "user", "content": "describe the picture"}]


@pytest.fixture
def server():
    with FakeOpenAIServer(ServerConfig()) as fake:
        yield fake


@pytest.fixture
def client(server):
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as sync_client:
        yield sync_client


def chat(client: openai.OpenAI, messages=USER, **kwargs):
    return client.chat.completions.create(model="fake-model", messages=messages, **kwargs)


def test_chat_completion_with_usage(server, client):
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello world"}]
    completion = chat(client, messages)
    choice = completion.choices[0]
    assert choice.message.content == "Echo: hello world"
    assert choice.finish_reason == "stop"
    assert completion.model == "fake-model"
    assert completion.usage.prompt_tokens == estimate_tokens("be brief") + estimate_tokens("hello world")
    assert completion.usage.completion_tokens == estimate_tokens("Echo: hello world")
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    stats = server.stats()
    assert stats["chat_completions_ok"] == 1
    assert stats["by_status"] == {200: 1}
    assert stats["by_path"] == {"/v1/chat/completions": 1}
    assert stats["request_log"][0]["body"]["messages"] == messages


def test_images_count_towards_prompt_tokens(client):
    content = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    completion = chat(client, [{"role": "user", "content": content}])
    assert completion.usage.prompt_tokens == estimate_tokens("what is this") + openai_server.IMAGE_TOKENS
    assert completion.choices[0].message.content == "Echo: what is this"


class Region(BaseModel):
    label: Literal["person", "dog"]
    box: list[int] = Field(min_length=4, max_length=4)
    score: float = Field(ge=0.5, le=1)


class Annotation(BaseModel):
    description: str = Field(min_length=20)
    regions: list[Region] = Field(min_length=2)
    note: str | None
    crowd: bool


def test_json_schema_response_validates(client):
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "annotation", "schema": Annotation.model_json_schema(), "strict": True},
    }
    content = chat(client, response_format=response_format).choices[0].message.content
    annotation = Annotation.model_validate_json(content)
    assert len(annotation.regions) == 2 and annotation.note is not None


def test_json_object_mode_returns_an_object(client):
    content = chat(client, response_format={"type": "json_object"}).choices[0].message.content
    assert isinstance(json.loads(content), dict)


def test_schema_instance_handles_recursion_and_bounds():
    tree = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }
        },
        "$ref": "#/$defs/Node",
    }
    assert isinstance(schema_instance(tree), dict)
    assert schema_instance({"type": "integer", "exclusiveMinimum": 3, "maximum": 10}) == 4
    assert schema_instance({"type": "string", "maxLength": 3}) == "exa"
    assert schema_instance({"type": ["null", "number"], "minimum": 2.5}) == 2.5
    assert schema_instance({"enum": ["b", "a"]}) == "b"


def test_scripted_responses_in_order_last_repeats(server, client):
    server.script(
        r"describe",
        ['{"description": "first"}', Reply("second", finish_reason="length"), Fault.HTTP_500, "last"],
    )
    server.script(lambda text: "count" in text, ["counted"])
    contents = [chat(client).choices[0] for _ in range(2)]
    assert [(c.message.content, c.finish_reason) for c in contents] == [
        ('{"description": "first"}', "stop"),
        ("second", "length"),
    ]
    with pytest.raises(openai.InternalServerError):
        chat(client)
    assert [chat(client).choices[0].message.content for _ in range(2)] == ["last", "last"]
    assert chat(client, [{"role": "user", "content": "count me"}]).choices[0].message.content == "counted"
    assert chat(client, [{"role": "user", "content": "other"}]).choices[0].message.content == "Echo: other"
    server.clear_scripts()
    assert chat(client).choices[0].message.content == "Echo: describe the picture"


def test_rpm_limit_gives_429_with_retry_after(server, client):
    server.configure(rpm=2)
    chat(client)
    chat(client)
    with pytest.raises(openai.RateLimitError) as caught:
        chat(client)
    response = caught.value.response
    assert int(response.headers["retry-after"]) >= 1
    assert int(response.headers["retry-after-ms"]) > 0
    assert response.json()["error"]["type"] == "requests"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert server.stats()["rate_limited"] == 1


def test_tpm_limit_counts_prompt_plus_max_tokens(server, client):
    server.configure(tpm=100)
    chat(client, max_tokens=50)
    with pytest.raises(openai.RateLimitError) as caught:
        chat(client, max_tokens=60)
    assert caught.value.response.json()["error"]["type"] == "tokens"


def test_ratelimit_headers_present(server, client):
    server.configure(rpm=600, tpm=60_000)
    raw = client.chat.completions.with_raw_response.create(model="fake-model", messages=USER)
    headers = raw.headers
    assert headers["x-ratelimit-limit-requests"] == "600"
    assert headers["x-ratelimit-remaining-requests"] == "599"
    assert headers["x-ratelimit-limit-tokens"] == "60000"
    assert int(headers["x-ratelimit-remaining-tokens"]) < 60_000
    duration = re.compile(r"^(\d+ms|(\d+m)?\d+(\.\d+)?s)$")
    assert duration.match(headers["x-ratelimit-reset-requests"])
    assert duration.match(headers["x-ratelimit-reset-tokens"])


def test_format_duration():
    assert [format_duration(s) for s in (0.12, 1, 17.5, 360)] == ["120ms", "1s", "17.5s", "6m0s"]


def test_injected_server_errors(server, client):
    server.configure(fail_rate_500=1.0)
    with pytest.raises(openai.InternalServerError) as caught:
        chat(client)
    assert caught.value.status_code == 500
    server.configure(fail_rate_500=0.0, schedule=[FaultSchedule(Fault.HTTP_503, first_n=1)])
    with pytest.raises(openai.InternalServerError) as caught:
        chat(client)
    assert caught.value.status_code == 503
    chat(client)
    server.configure(schedule=[{"fault": "400", "every_k": 2}])
    chat(client)
    with pytest.raises(openai.BadRequestError):
        chat(client)
    server.configure(schedule=[], fail_rate_429=1.0, retry_after_ms=200)
    with pytest.raises(openai.RateLimitError) as caught:
        chat(client)
    assert caught.value.response.headers["retry-after-ms"] == "200"
    assert server.stats()["by_status"] == {500: 1, 503: 1, 200: 2, 400: 1, 429: 1}


def test_fault_rates_are_roughly_respected(server, client):
    server.configure(fail_rate_500=0.3, seed=7)
    failures = 0
    for _ in range(100):
        try:
            chat(client)
        except openai.InternalServerError:
            failures += 1
    assert 10 < failures < 50
    assert server.stats()["faults"] == {"500": failures}


def test_dropped_connection(server, client):
    server.configure(fail_rate_drop=1.0)
    with pytest.raises(openai.APIConnectionError):
        chat(client)
    server.configure(fail_rate_drop=0.0)
    assert chat(client).choices[0].finish_reason == "stop"
    stats = server.stats()
    assert stats["dropped"] == 1 and stats["by_status"] == {200: 1}


def test_timeout(server):
    server.configure(fail_rate_timeout=1.0, timeout_s=10)
    with (
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=0.3) as impatient,
        pytest.raises(openai.APITimeoutError),
    ):
        chat(impatient)
    deadline = time.monotonic() + 2
    while server.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.stats()["in_flight"] == 0  # the stalled handler was cancelled with the connection


def test_length_content_filter_and_malformed(server, client):
    long_message = [{"role": "user", "content": "x" * 400}]
    truncated = chat(client, long_message, max_tokens=5)
    assert truncated.choices[0].finish_reason == "length"
    assert truncated.usage.completion_tokens <= 5
    server.script("scripted", [Reply(fault=Fault.LENGTH, content="0123456789"), Fault.CONTENT_FILTER])
    scripted = [{"role": "user", "content": "scripted"}]
    cut = chat(client, scripted).choices[0]
    assert (cut.message.content, cut.finish_reason) == ("01234", "length")
    filtered = chat(client, scripted).choices[0]
    assert filtered.message.content is None and filtered.finish_reason == "content_filter"
    server.configure(fail_rate_malformed=1.0)
    content = chat(client, response_format={"type": "json_object"}).choices[0].message.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_bad_requests_get_openai_error_bodies(server, client):
    with pytest.raises(openai.BadRequestError):
        chat(client, [])
    response = httpx.post(f"{server.base_url}/chat/completions", content=b"{not json")
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    missing = httpx.get(f"{server.base_url}/nope")
    assert missing.status_code == 404 and "error" in missing.json()


def test_api_key_is_enforced():
    with FakeOpenAIServer(ServerConfig(api_key="secret")) as server:
        with (
            openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0) as bad,
            pytest.raises(openai.AuthenticationError) as caught,
        ):
            chat(bad)
        assert caught.value.response.json()["error"]["code"] == "invalid_api_key"
        with openai.OpenAI(base_url=server.base_url, api_key="secret", max_retries=0) as good:
            assert chat(good).choices[0].finish_reason == "stop"


def batch_input(count: int) -> bytes:
    lines = [
        {
            "custom_id": f"req-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "fake-model", "messages": [{"role": "user", "content": f"item {i}"}]},
        }
        for i in range(count)
    ]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def run_batch(client: openai.OpenAI, data: bytes):
    uploaded = client.files.create(file=("input.jsonl", io.BytesIO(data)), purpose="batch")
    assert client.files.retrieve(uploaded.id).bytes == len(data)
    assert client.files.content(uploaded.id).content == data
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    statuses = [batch.status]
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        batch = client.batches.retrieve(batch.id)
        statuses.append(batch.status)
    return batch, statuses


def read_jsonl(client: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def test_batch_round_trip(server, client):
    server.script(r"item 2", [Fault.HTTP_500])
    batch, statuses = run_batch(client, batch_input(4))
    assert statuses == ["validating", "in_progress", "completed"]
    assert batch.request_counts.total == 4
    assert (batch.request_counts.completed, batch.request_counts.failed) == (3, 1)
    output = read_jsonl(client, batch.output_file_id)
    assert [line["custom_id"] for line in output] == ["req-0", "req-1", "req-3"]
    first = output[0]["response"]
    assert first["status_code"] == 200 and first["request_id"]
    assert first["body"]["choices"][0]["message"]["content"] == "Echo: item 0"
    errors = read_jsonl(client, batch.error_file_id)
    assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("req-2", 500)]
    assert server.stats()["batch_lines"] == 4


def test_expired_batch_has_partial_output(server, client):
    server.configure(batch_faults=["expired"], batch_fault_fraction=0.5)
    batch, _ = run_batch(client, batch_input(4))
    assert batch.status == "expired"
    assert [line["custom_id"] for line in read_jsonl(client, batch.output_file_id)] == ["req-0", "req-1"]
    errors = read_jsonl(client, batch.error_file_id)
    assert [(e["custom_id"], e["error"]["code"]) for e in errors] == [
        ("req-2", "batch_expired"),
        ("req-3", "batch_expired"),
    ]
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 2)
    again, _ = run_batch(client, batch_input(4))  # only the first batch was scripted to expire
    assert again.status == "completed"


def test_failed_and_cancelled_batches(server, client):
    server.configure(batch_faults=["failed"], batch_fault_fraction=0.25)
    failed, _ = run_batch(client, batch_input(4))
    assert failed.status == "failed" and failed.errors.data[0].code == "server_error"
    assert len(read_jsonl(client, failed.output_file_id)) == 1
    invalid, _ = run_batch(client, b'{"custom_id": "x"}\n')
    assert invalid.status == "failed" and invalid.errors.data[0].line == 1
    uploaded = client.files.create(file=("input.jsonl", io.BytesIO(batch_input(2))), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert client.batches.cancel(batch.id).status == "cancelling"
    assert client.batches.retrieve(batch.id).status == "cancelled"


def test_batch_delay(server, client):
    server.configure(batch_delay_s=0.3, batch_polls=0)
    uploaded = client.files.create(file=("input.jsonl", io.BytesIO(batch_input(1))), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert client.batches.retrieve(batch.id).status == "in_progress"
    time.sleep(0.35)
    assert client.batches.retrieve(batch.id).status == "completed"


def test_concurrent_requests_overlap():
    async def burst(base_url: str) -> None:
        async with openai.AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0) as async_client:
            await asyncio.gather(
                *(
                    async_client.chat.completions.create(
                        model="fake-model", messages=[{"role": "user", "content": str(i)}]
                    )
                    for i in range(100)
                )
            )

    with FakeOpenAIServer(ServerConfig(latency_ms=200, jitter_ms=50)) as server:
        started = time.monotonic()
        asyncio.run(burst(server.base_url))
        elapsed = time.monotonic() - started
        stats = server.stats()
    assert elapsed < 5
    assert stats["chat_completions_ok"] == 100
    assert stats["max_in_flight"] >= 50


def test_counters_reset_and_thread_cleanup():
    before = set(threading.enumerate())
    with FakeOpenAIServer() as server:
        httpx.post(f"{server.base_url}/chat/completions", json={"model": "m", "messages": USER})
        assert server.stats()["requests_total"] == 1
        server.reset_counters()
        stats = server.stats()
        assert stats["requests_total"] == 0 and stats["request_log"] == [] and stats["by_status"] == {}
    assert set(threading.enumerate()) == before


def test_configure_rejects_unknown_settings(server):
    with pytest.raises(ValueError):
        server.configure(port=1)
    with pytest.raises(ValueError):
        server.configure(no_such_setting=1)


def test_subprocess_with_http_control():
    root = Path(openai_server.__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "svit_assets.testing.openai_server", "--port", "0", "--latency-ms", "1"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        base_url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", base_url)
        control = base_url.removesuffix("/v1") + "/_control"
        config = httpx.post(f"{control}/config", json={"fail_rate_503": 1.0}).json()
        assert config["faults"]["fail_rate_503"] == 1.0
        with openai.OpenAI(base_url=base_url, api_key="test", max_retries=0) as remote:
            with pytest.raises(openai.InternalServerError):
                chat(remote)
            httpx.post(f"{control}/config", json={"fail_rate_503": 0.0})
            httpx.post(
                f"{control}/script", json={"pattern": "describe", "responses": ["scripted", {"fault": "500"}]}
            )
            assert chat(remote).choices[0].message.content == "scripted"
            with pytest.raises(openai.InternalServerError):
                chat(remote)
        assert httpx.post(f"{control}/config", json={"bogus": 1}).status_code == 400
        stats = httpx.get(f"{control}/stats").json()
        assert stats["by_status"] == {"503": 1, "200": 1, "500": 1}
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0

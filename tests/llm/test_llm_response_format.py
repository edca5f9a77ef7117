"""Endpoints that refuse `json_schema` (llama.cpp's server, older vLLM/Ollama) get `json_object` instead,
once, and every later engine on the same home asks in the accepted form straight away."""

from __future__ import annotations

from svit_assets.llm import ChatRequest
from svit_assets.llm.engine import ResponseFormats

SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "qa", "schema": {"type": "object"}}}
REQUEST = ChatRequest(messages=({"role": "user", "content": "hi"},), response_format=SCHEMA_FORMAT)
LLAMA_CPP_ERROR = (
    "HTTP 500 internal_server_error: 1 validation error: {'type': 'literal_error', "
    "'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}"
)


def test_a_refused_schema_downgrades_to_json_object_and_is_remembered(tmp_path):
    formats = ResponseFormats(tmp_path / "endpoints.json", "http://127.0.0.1:8080/v1 smollm2")
    assert formats.adapt(REQUEST) is REQUEST
    assert formats.rejected(REQUEST, 500, LLAMA_CPP_ERROR)
    assert formats.adapt(REQUEST).response_format == {"type": "json_object"}

    again = ResponseFormats(tmp_path / "endpoints.json", "http://127.0.0.1:8080/v1 smollm2")
    assert again.adapt(REQUEST).response_format == {"type": "json_object"}
    other = ResponseFormats(tmp_path / "endpoints.json", "https://api.openai.com/v1 gpt-4o-mini")
    assert other.adapt(REQUEST) is REQUEST


def test_unrelated_failures_do_not_downgrade(tmp_path):
    formats = ResponseFormats(tmp_path / "endpoints.json", "e m")
    assert not formats.rejected(REQUEST, 503, "HTTP 503: service unavailable")
    assert not formats.rejected(REQUEST, 400, "HTTP 400: messages must not be empty")
    plain = ChatRequest(messages=REQUEST.messages, response_format={"type": "json_object"})
    assert not formats.rejected(plain, 500, LLAMA_CPP_ERROR)
    assert formats.adapt(REQUEST) is REQUEST
    assert not (tmp_path / "endpoints.json").exists()


def test_settings_can_cap_the_structured_output_mode(tmp_path):
    as_object = ResponseFormats(tmp_path / "endpoints.json", "e m", mode="json_object")
    assert as_object.adapt(REQUEST).response_format == {"type": "json_object"}
    unconstrained = ResponseFormats(tmp_path / "endpoints.json", "e m", mode="none")
    assert unconstrained.adapt(REQUEST).response_format is None

"""End to end: the fake OpenAI server scripts model outputs; exactly the right records and quarantine rows
come out, a re-run is served from the cache, and the offline path yields valid records of the same shape."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from svit_assets.home import Home
from svit_assets.llm import BudgetExceeded, LLMEngine, LLMFailure, LLMSettings
from svit_assets.tasks.generate import (
    TASK_QUARANTINE_SCHEMA,
    TASK_RECORDS_SCHEMA,
    generate_task_batch,
    task_check_results,
)
from svit_assets.tasks.prompts import load_prompt_pack
from svit_assets.tasks.specs import TASK_SPECS
from svit_assets.tasks.validation import ITEM_REASONS, OUTPUT_REASONS, SKIP_REASONS, text_problem
from svit_assets.testing.openai_server import FakeOpenAIServer, ServerConfig

KNOWN_REASONS = {*SKIP_REASONS, *OUTPUT_REASONS, *ITEM_REASONS}

CONVERSATION = TASK_SPECS["conversation"]
REFERRING = TASK_SPECS["referring_qa"]
BATCH = "b00000001-00000099"


def _turns(*pairs: tuple[str, str]) -> list[dict]:
    return [{"question": q, "answer": a} for q, a in pairs]


GOOD_CONVERSATION = {
    "conversations": [
        {
            "topic": "the bus",
            "qa": _turns(
                (
                    "What vehicle fills the middle of the street?",
                    "A large red double-decker bus drives down the street.",
                ),
                ("What color is the bus?", "The bus is bright red."),
                ("How many decks does it have?", "It has two decks, one above the other."),
                ("What is the bus driving on?", "It drives on a wet city street."),
                ("Does the bus have wheels visible?", "Yes, a wheel is visible near the bottom of the bus."),
            ),
        },
        {
            "topic": "people waiting",
            "qa": _turns(
                ("Who stands at the right side?", "A man and a woman stand together at the bus stop."),
                ("What is the woman holding?", "She holds a black umbrella over her head."),
                ("Where is the man relative to the woman?", "The man stands just to her left."),
                ("What are they probably waiting for?", "They are most likely waiting to board the bus."),
                ("Is there a sign near them?", "Yes, a bus stop sign stands beside them."),
            ),
        },
        {
            "topic": "the surroundings",
            "qa": _turns(
                ("What lines the street?", "Buildings line both sides of the street."),
                (
                    "What is on the lower floor of the left building?",
                    "It has shop windows facing the street.",
                ),
                ("Is the street wet or dry?", "The street and the pavement look wet."),
                ("Is this a city or the countryside?", "It is a busy city street."),
                ("Why might the woman carry an umbrella?", "The wet pavement suggests it has been raining."),
            ),
        },
    ]
}
LEAKING_CONVERSATION = {
    "conversations": [
        {
            "topic": c["topic"],
            "qa": [{**t, "answer": t["answer"] + " The captions mention this."} for t in c["qa"]],
        }
        for c in GOOD_CONVERSATION["conversations"]
    ]
}
WRONG_COUNT = {"conversations": GOOD_CONVERSATION["conversations"][:1]}
GOOD_TEXT = json.dumps(GOOD_CONVERSATION)


@pytest.fixture
def server():
    with FakeOpenAIServer(ServerConfig(latency_ms=0)) as fake:
        yield fake


def _engine(server, home: Home, **settings) -> LLMEngine:
    values = {
        "model": "gpt-4o-mini",
        "base_url": server.base_url,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
    }
    return LLMEngine(LLMSettings(**(values | settings)), home, run_label="tasks-test")


def _by_image(table: pa.Table) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    for row in table.select(["image_id", "reason"]).to_pylist():
        result.setdefault(row["image_id"], []).append(row["reason"])
    return result


def test_scripted_outputs_give_exactly_the_expected_records_and_quarantine(server, scenes, tmp_path):
    street = scenes["street"]
    images = [
        street(1, "A red bus passes the old library."),  # good
        street(2, "A red bus passes the museum."),  # malformed, then fixed on the re-ask
        street(3, "A red bus passes the harbour."),  # refuses every time
        street(4, "A red bus passes the stadium."),  # leaks the context every time
        street(5, "A red bus passes the market."),  # always cut off (finish_reason length)
        street(6, "A red bus passes the theatre."),  # one conversation instead of three
        scenes["thin"](7),  # too thin to send
    ]
    server.script("library", [GOOD_TEXT])
    server.script("museum", ['Sure! {"conversations": [{"topic": "bus", "qa": [', GOOD_TEXT])
    server.script("harbour", ["I'm sorry, but I can't help with that request."])
    server.script("stadium", [json.dumps(LEAKING_CONVERSATION)])
    server.script("market", [{"content": GOOD_TEXT[:300], "finish_reason": "length"}])
    server.script("theatre", [json.dumps(WRONG_COUNT)])
    home = Home(tmp_path).ensure()

    result = generate_task_batch(CONVERSATION, images, engine=_engine(server, home), batch_key=BATCH)

    records, quarantine = result.records, result.quarantine
    assert records.schema == TASK_RECORDS_SCHEMA and quarantine.schema == TASK_QUARANTINE_SCHEMA
    assert records.num_rows == 30
    assert sorted(set(records.column("image_id").to_pylist())) == [1, 2]
    assert _by_image(quarantine) == {
        3: ["refusal"],
        4: ["leak"],
        5: ["truncated"],
        6: ["wrong_count"],
        7: ["thin_context"],
    }
    assert set(quarantine.column("reason").to_pylist()) <= KNOWN_REASONS
    rows = {row["image_id"]: row for row in quarantine.to_pylist()}
    assert rows[3]["raw_text"] == "I'm sorry, but I can't help with that request." and rows[3]["attempt"] == 2
    assert "attempts: refusal, refusal, refusal" in rows[3]["detail"]
    assert rows[7]["request_key"] == "" and rows[7]["raw_text"] == ""
    assert all(row["generator"] == "gpt-4o-mini" and row["batch"] == BATCH for row in quarantine.to_pylist())

    pack = load_prompt_pack("conversation")
    for row in records.to_pylist():
        assert row["generator"] == "gpt-4o-mini" and row["prompt_version"] == pack.version
        assert row["task"] == "conversation" and row["batch"] == BATCH
        assert row["boxes"] == [] and row["box_refs"] == [] and row["flags"] == []
        assert not any(text_problem(row[part]) for part in ("topic", "question", "answer"))
    first = [r for r in records.to_pylist() if r["image_id"] == 1]
    assert [(r["conversation_index"], r["turn_index"]) for r in first] == [
        (c, t) for c in range(3) for t in range(5)
    ]
    assert first[0]["question"] == "What vehicle fills the middle of the street?"
    # The request's tokens and cost are split evenly over the 15 records of its output.
    assert len({r["request_key"] for r in first}) == 1
    assert sum(r["completion_tokens"] for r in first) == len(GOOD_TEXT) // 4 + 1  # the fake's token count
    assert max(r["prompt_tokens"] for r in first) - min(r["prompt_tokens"] for r in first) <= 1
    assert all(r["cost_usd"] > 0 for r in first)
    fixed = [r for r in records.to_pylist() if r["image_id"] == 2]
    assert fixed[0]["request_key"] != first[0]["request_key"]

    metrics = result.metrics
    assert metrics["images"] == 7 and metrics["images_sent"] == 6 and metrics["images_skipped"] == 1
    assert metrics["skipped_by_reason"] == {"thin_context": 1}
    assert metrics["images_accepted"] == 2 and metrics["images_quarantined"] == 4
    assert metrics["qa_accepted"] == 30 and metrics["qa_per_image"] == 15
    assert metrics["quarantined_by_reason"] == {
        "refusal": 1,
        "leak": 1,
        "truncated": 1,
        "wrong_count": 1,
        "thin_context": 1,
    }
    # Logical requests: 1 + 2 + 3 + 3 + 3 + 3; the engine also re-asked each truncated one with more tokens.
    assert metrics["requests"] == 15 and metrics["reasks"] == 9 and metrics["fixed_on_reask"] == 1
    assert metrics["requests_sent"] == 18 == server.stats()["chat_completions_ok"]
    assert metrics["responses"] == 15
    # Unparsed: museum's first answer, harbour's three refusals and market's three cut-off answers.
    assert metrics["parse_rate"] == pytest.approx(8 / 15, abs=1e-6)
    assert metrics["cache_hits"] == 0 and metrics["cost_usd"] > 0 and metrics["cost_per_qa"] > 0

    outcomes = {o.name: o for o in task_check_results(records, quarantine, CONVERSATION)}
    assert [n for n, _, _ in CONVERSATION.checks] == list(outcomes)
    assert outcomes["qa_counts"].passed and outcomes["box_validity"].passed
    assert outcomes["no_refusal_or_leak"].passed and outcomes["no_refusal_or_leak"].severity == "ERROR"
    assert not outcomes["quarantine_rate"].passed and outcomes["quarantine_rate"].severity == "WARN"
    assert outcomes["quarantine_rate"].metadata["by_reason"] == {
        "refusal": 1,
        "leak": 1,
        "truncated": 1,
        "wrong_count": 1,
    }
    assert outcomes["parse_rate"].metadata["parse_rate"] == pytest.approx(5 / 6, abs=1e-4)

    # A re-run with a fresh engine on the same home is answered entirely from the cache.
    before = server.stats()["requests_total"]
    again = generate_task_batch(CONVERSATION, images, engine=_engine(server, home), batch_key=BATCH)
    assert server.stats()["requests_total"] == before
    assert again.metrics["requests_sent"] == 0 and again.metrics["cache_hits"] == 15
    assert again.records.equals(records) and again.quarantine.equals(quarantine)


REF_BUS = "<st>red bus<ed> [0.212, 0.184, 0.768, 0.873]"
REF_UMBRELLA = "<st>black umbrella<ed> [0.870, 0.318, 0.987, 0.452]"
REF_WOMAN = "<st>woman<ed> [0.884, 0.421, 0.952, 0.858]"


def _referring(box: str) -> str:
    qa = [
        {
            "question": f"What is held near {REF_WOMAN}, case {i}?",
            "answer": f"{REF_UMBRELLA} is held by her, case {i}.",
        }
        for i in range(9)
    ]
    qa.append({"question": f"What color is {box}?", "answer": f"{REF_BUS} is bright red."})
    return json.dumps({"qa": qa})


def test_referring_boxes_out_of_the_image_are_quarantined(server, scenes, tmp_path):
    street = scenes["street"]
    images = [street(21, "A red bus passes the cathedral."), street(22, "A red bus passes the museum.")]
    server.script("cathedral", [_referring(REF_BUS)])
    outside = json.dumps(
        {
            "qa": [
                {
                    "question": f"Is <st>bus<ed> [0.5, 0.5, 1.4, 1.2] red, case {i}?",
                    "answer": f"{REF_BUS} is red.",
                }
                for i in range(10)
            ]
        }
    )
    server.script("museum", [outside])
    result = generate_task_batch(
        REFERRING, images, engine=_engine(server, Home(tmp_path).ensure()), batch_key=BATCH
    )

    assert result.records.num_rows == 10
    assert _by_image(result.quarantine) == {22: ["bad_box"]}
    rows = result.records.to_pylist()
    assert rows[0]["box_refs"] == ["object:104", "object:105"]
    assert rows[0]["boxes"] == [[0.884, 0.421, 0.952, 0.858], [0.87, 0.318, 0.987, 0.452]]
    assert rows[9]["box_refs"] == ["object:101"]
    outcomes = {o.name: o for o in task_check_results(result.records, result.quarantine, REFERRING)}
    assert outcomes["box_validity"].passed and outcomes["qa_counts"].passed


def test_budget_exceeded_propagates_before_anything_is_sent(server, street, tmp_path):
    engine = _engine(server, Home(tmp_path).ensure(), budget_usd=1e-9)
    with pytest.raises(BudgetExceeded):
        generate_task_batch(CONVERSATION, [street], engine=engine, batch_key=BATCH)
    assert server.stats()["requests_total"] == 0


def test_a_dead_endpoint_fails_the_run_instead_of_writing_nothing(server, street, tmp_path):
    server.configure(fail_rate_500=1.0)
    engine = _engine(server, Home(tmp_path).ensure(), max_attempts=2)
    with pytest.raises(LLMFailure):
        generate_task_batch(CONVERSATION, [street], engine=engine, batch_key=BATCH)


def test_offline_generator_goes_through_the_same_validation(scenes, vg_images):
    images = [scenes["street"](31), scenes["park"](32), scenes["thin"](33), *vg_images[:6]]
    for spec in TASK_SPECS.values():
        result = generate_task_batch(spec, images, engine=None, batch_key=BATCH)
        records = result.records
        assert records.schema == TASK_RECORDS_SCHEMA
        assert set(records.column("generator").to_pylist()) <= {"offline"}
        assert result.metrics["generator"] == "offline"
        assert set(result.quarantine.column("reason").to_pylist()) <= KNOWN_REASONS
        assert result.metrics["images_skipped"] >= 1  # the thin scene
        assert records.num_rows > 0, (spec.name, result.metrics["quarantined_by_reason"])
        outcomes = {o.name: o for o in task_check_results(records, result.quarantine, spec)}
        for name in ("qa_counts", "box_validity", "no_refusal_or_leak"):
            assert outcomes[name].passed, (spec.name, name, outcomes[name].metadata)
        if spec.question_chars is None:  # instruction-style: the question is one of the folder's instructions
            assert set(records.column("question").to_pylist()) <= set(
                load_prompt_pack(spec.name).instructions
            )
    again = generate_task_batch(spec, images, engine=None, batch_key=BATCH)
    assert again.records.equals(records) and again.quarantine.equals(result.quarantine)  # deterministic


def test_batch_mode_sends_the_first_round_through_the_batch_api(server, street, park, tmp_path):
    server.script(r"(?s).", [json.dumps(GOOD_CONVERSATION)])
    engine = _engine(server, Home(tmp_path), batch_mode=True, batch_poll_interval_s=0.05)
    result = generate_task_batch(CONVERSATION, [street, park], engine=engine, batch_key=BATCH)
    stats = server.stats()
    assert stats["by_path"].get("/v1/batches", 0) >= 1
    assert stats["by_path"].get("/v1/chat/completions", 0) == 0  # nothing needed a re-ask
    assert set(result.records.column("image_id").to_pylist()) == {street.image_id, park.image_id}
    ledger_batch = result.metrics["llm"]["batch_requests"]
    assert ledger_batch == 2

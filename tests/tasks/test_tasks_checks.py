"""The asset-check logic on hand-built partitions: each check fails on exactly the defect it guards."""

from __future__ import annotations

import pyarrow as pa

from svit_assets.tasks.generate import TASK_QUARANTINE_SCHEMA, TASK_RECORDS_SCHEMA, task_check_results
from svit_assets.tasks.specs import TASK_SPECS

REFERRING = TASK_SPECS["referring_qa"]
BOX = [0.212, 0.184, 0.768, 0.873]
REF = "<st>bus<ed> [0.212, 0.184, 0.768, 0.873]"


def _record(image_id: int, turn: int, **changes) -> dict:
    row = {
        "image_id": image_id,
        "batch": "b",
        "task": "referring_qa",
        "conversation_index": 0,
        "turn_index": turn,
        "topic": "",
        "question": f"What color is {REF}, view {turn}?",
        "answer": f"{REF} is red.",
        "boxes": [BOX],
        "box_refs": ["object:101"],
        "flags": [],
        "generator": "m",
        "prompt_version": "v",
        "request_key": "k",
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "cost_usd": 0.0,
    }
    return row | changes


def _quarantine(image_id: int, reason: str, attempt: int = 2) -> dict:
    return {
        "image_id": image_id,
        "batch": "b",
        "task": "referring_qa",
        "reason": reason,
        "detail": "",
        "raw_text": "",
        "request_key": "",
        "generator": "m",
        "attempt": attempt,
    }


def _outcomes(records: list[dict], quarantine: list[dict] = ()) -> dict:
    tables = (
        pa.Table.from_pylist(records, schema=TASK_RECORDS_SCHEMA),
        pa.Table.from_pylist(list(quarantine), schema=TASK_QUARANTINE_SCHEMA),
    )
    return {o.name: o for o in task_check_results(*tables, REFERRING)}


def _image(image_id: int, count: int = 10) -> list[dict]:
    return [_record(image_id, turn) for turn in range(count)]


def test_a_clean_partition_passes_every_check():
    outcomes = _outcomes(_image(1) + _image(2, 6), [_quarantine(3, "thin_context", 0)])
    assert all(o.passed for o in outcomes.values()), {
        n: o.metadata for n, o in outcomes.items() if not o.passed
    }
    assert outcomes["qa_counts"].metadata["min"] == 6 and outcomes["qa_counts"].metadata["max"] == 10
    assert outcomes["quarantine_rate"].metadata["quarantine_rate"] == 0  # skipped images are not failures


def test_rates_count_images_whose_final_attempt_failed():
    quarantine = [_quarantine(3, "parse_error"), _quarantine(4, "refusal"), _quarantine(1, "leak", 0)]
    outcomes = _outcomes(_image(1) + _image(2), quarantine)
    assert outcomes["parse_rate"].metadata["parse_rate"] == 0.75 and not outcomes["parse_rate"].passed
    assert outcomes["quarantine_rate"].metadata["by_reason"] == {"parse_error": 1, "refusal": 1}
    assert outcomes["quarantine_rate"].metadata["items_rejected"] == 1
    assert not outcomes["quarantine_rate"].passed and outcomes["quarantine_rate"].severity == "WARN"


def test_counts_outside_the_spec_fail():
    outcomes = _outcomes(_image(1, 5) + _image(2, 11))
    assert not outcomes["qa_counts"].passed and outcomes["qa_counts"].severity == "ERROR"
    assert sorted(outcomes["qa_counts"].metadata["bad_images"]) == [1, 2]


def test_invalid_or_missing_boxes_fail():
    records = _image(1)
    records[0] = _record(1, 0, boxes=[[0.5, 0.5, 1.2, 0.9]])
    records[1] = _record(1, 1, box_refs=[])
    records[2] = _record(1, 2, answer="It is red.")
    records[3] = _record(1, 3, box_refs=["thing:1"])
    outcome = _outcomes(records)["box_validity"]
    assert not outcome.passed and outcome.metadata["bad_records"] == 4


def test_refusals_and_leaks_in_accepted_records_fail():
    records = _image(1)
    records[4] = _record(1, 4, answer=f"{REF} is red, as the caption says.")
    records[5] = _record(1, 5, answer=f"I'm sorry, I cannot see {REF}.")
    outcome = _outcomes(records)["no_refusal_or_leak"]
    assert not outcome.passed and outcome.severity == "ERROR" and outcome.metadata["offending"] == 2

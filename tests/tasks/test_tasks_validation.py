"""Validators: counts, refusals/error text, leaks, lengths, duplicates, referring boxes, grounding flags."""

from __future__ import annotations

import json

import pytest

from svit_assets.tasks.context import build_context
from svit_assets.tasks.specs import TASK_SPECS
from svit_assets.tasks.validation import Grounding, count_mentions, evaluate_output, text_problem

SPECS = TASK_SPECS


def _qa(n: int, start: int = 0) -> list[dict]:
    return [
        {
            "question": f"What is the woman near the bus doing in moment {i}?",
            "answer": f"She is holding a black umbrella while waiting next to the man, view {i}.",
        }
        for i in range(start, start + n)
    ]


def _conversations(*sizes: int) -> str:
    convs, start = [], 0
    for size in sizes:
        convs.append({"topic": f"topic {start}", "qa": _qa(size, start)})
        start += size
    return json.dumps({"conversations": convs})


def _evaluate(task: str, image, text: str, finish: str = "stop"):
    spec = SPECS[task]
    return evaluate_output(spec, text, build_context(image, spec), Grounding.from_image(image), finish)[1]


@pytest.mark.parametrize(
    ("sizes", "ok", "accepted", "reason"),
    [
        ((5, 5, 5), True, 15, None),
        ((3, 4, 5), True, 12, None),  # short but above the minimum: accepted
        ((5, 3), True, 8, None),  # two conversations of ≥ 3 turns: accepted
        ((5, 2, 2), False, 0, "wrong_count"),
        ((5,), False, 0, "wrong_count"),
        ((5, 5, 5, 5), True, 15, None),  # the fourth conversation is trimmed
        ((6, 5, 5), True, 15, None),  # the sixth turn is trimmed
    ],
)
def test_conversation_count_policy(street, sizes, ok, accepted, reason):
    verdict = _evaluate("conversation", street, _conversations(*sizes))
    assert (verdict.ok, len(verdict.accepted), verdict.reason) == (ok, accepted, reason)
    if ok:
        assert [c.reason for c in verdict.rejected] == ["over_count"] * (sum(sizes) - accepted)


def test_single_list_count_policy(street):
    assert len(_evaluate("complex_reasoning", street, json.dumps({"qa": _qa(15)})).accepted) == 15
    assert len(_evaluate("complex_reasoning", street, json.dumps({"qa": _qa(10)})).accepted) == 10
    assert _evaluate("complex_reasoning", street, json.dumps({"qa": _qa(9)})).reason == "wrong_count"
    verdict = _evaluate("complex_reasoning", street, json.dumps({"qa": _qa(17)}))
    assert len(verdict.accepted) == 15 and [c.reason for c in verdict.rejected] == ["over_count"] * 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I'm sorry, but I can't help with that request.", "refusal"),
        ("As an AI language model, I cannot see images.", "refusal"),
        ("I cannot determine that from the picture.", "refusal"),
        ('{"error": {"message": "Internal error", "type": "server_error"}}', "error_text"),
        ("502 Bad Gateway", "error_text"),
        ("Internal Server Error", "error_text"),
        ("Rate limit reached for gpt-4o-mini, please retry.", "error_text"),
        ("Your message is empty.", "error_text"),
        ("The caption says there is a bus.", "leak"),
        ("The bounding box of the bus is large.", "leak"),
        ("Its coordinates place it on the left.", "leak"),
        ("Based on the description, a bus drives by.", "leak"),
        ("According to the regions, two people wait.", "leak"),
        ("The bus at [0.212, 0.184, 0.768, 0.873] is red.", "leak"),
        ("A red double-decker bus drives down the street.", None),
    ],
)
def test_text_problems(text, reason):
    problem = text_problem(text)
    assert (problem[0] if problem else None) == reason


def test_referring_references_are_not_leaks():
    assert text_problem("<st>red bus<ed> [0.212, 0.184, 0.768, 0.873] is red.", grounded=True) is None
    assert text_problem("The bus [0.212, 0.184, 0.768, 0.873] is red.", grounded=True)[0] == "leak"


def test_whole_output_refusal_and_error_body(street):
    assert (
        _evaluate("conversation", street, "I'm sorry, but I can't describe this image.").reason == "refusal"
    )
    assert (
        _evaluate("conversation", street, '{"error": {"message": "Rate limit reached"}}').reason
        == "error_text"
    )
    assert _evaluate("detail_description", street, "I'm sorry, I cannot help with that.").reason == "refusal"
    assert _evaluate("conversation", street, "").reason == "empty_output"
    assert _evaluate("conversation", street, "Just some words.").reason == "parse_error"
    assert _evaluate("conversation", street, _conversations(5, 5, 5), "length").reason == "truncated"
    assert _evaluate("conversation", street, None, "content_filter").reason == "content_filter"


def test_item_rejections_keep_the_rest_or_fail_with_the_dominant_reason(street):
    items = _qa(15)
    items[3]["answer"] = "The caption mentions a woman with an umbrella."
    items[7]["answer"] = "I'm sorry, I can't tell."
    items[9]["question"] = items[2]["question"].upper() + "  "  # a duplicate once normalised
    items[11]["answer"] = "Yes."  # below the 40-character minimum for reasoning answers
    verdict = _evaluate("complex_reasoning", street, json.dumps({"qa": items}))
    assert verdict.ok and len(verdict.accepted) == 11
    assert sorted(c.reason for c in verdict.rejected) == [
        "duplicate_question",
        "leak",
        "refusal",
        "too_short",
    ]
    leaking = [{**item, "answer": item["answer"] + " The captions say so."} for item in _qa(15)]
    verdict = _evaluate("complex_reasoning", street, json.dumps({"qa": leaking}))
    assert not verdict.ok and verdict.reason == "leak" and "leak×15" in verdict.detail


def test_lengths(street):
    items = _qa(15)
    items[0]["answer"] = "x" * 2600
    items[1]["question"] = "Why?"
    verdict = _evaluate("complex_reasoning", street, json.dumps({"qa": items}))
    assert sorted(c.reason for c in verdict.rejected) == ["too_long", "too_short"]
    short = _evaluate("detail_description", street, json.dumps({"description": "A red bus."}))
    assert short.reason == "too_short"


REF_BUS = "<st>red bus<ed> [0.212, 0.184, 0.768, 0.873]"
REF_UMBRELLA = "<st>black umbrella<ed> [0.870, 0.318, 0.987, 0.452]"
REF_PEOPLE = "<st>two people standing at a bus stop<ed> [0.800, 0.310, 0.990, 0.870]"


def _referring(question: str, answer: str) -> list[dict]:
    good = [
        {
            "question": f"What is next to {REF_PEOPLE}, case {i}?",
            "answer": f"{REF_UMBRELLA} is held above them, case {i}.",
        }
        for i in range(10)
    ]
    good[0] = {"question": question, "answer": answer}
    return good


@pytest.mark.parametrize(
    ("question", "answer", "reason"),
    [
        (f"What color is {REF_BUS}?", f"{REF_BUS} is bright red.", None),
        (f"What color is {REF_BUS}?", "It is bright red all over.", "missing_reference"),
        ("What color is the bus in the street?", f"{REF_BUS} is red.", "missing_reference"),
        ("What is <st>bus<ed> [0.212, 0.184, 1.200, 0.873]?", f"{REF_BUS} is red.", "bad_box"),
        ("What is <st>bus<ed> [0.768, 0.184, 0.212, 0.873]?", f"{REF_BUS} is red.", "bad_box"),
        ("What is <st>bus<ed> [0.2, 0.1]?", f"{REF_BUS} is red.", "bad_box"),
        ("What is <st>bus<ed> here?", f"{REF_BUS} is red.", "bad_box"),
        ("What is <st>cloud<ed> [0.010, 0.010, 0.100, 0.080]?", f"{REF_BUS} is red.", "unmatched_box"),
    ],
)
def test_referring_boxes(street, question, answer, reason):
    verdict = _evaluate("referring_qa", street, json.dumps({"qa": _referring(question, answer)}))
    assert verdict.ok
    first = next(c for c in [*verdict.accepted, *verdict.rejected] if c.item.turn_index == 0)
    assert first.reason == reason
    if reason is None:
        assert first.boxes == [[0.212, 0.184, 0.768, 0.873]]
        assert first.box_refs == ["object:101"]
    other = next(c for c in verdict.accepted if c.item.turn_index == 1)
    assert other.box_refs == ["region:202", "object:105"]


def test_referring_box_matches_by_iou_not_exact_digits(street):
    near = "<st>bus<ed> [0.220, 0.190, 0.760, 0.860]"  # IoU ≈ 0.95 with the annotated bus
    verdict = _evaluate(
        "referring_qa", street, json.dumps({"qa": _referring(f"What is {near}?", f"{near} is a bus.")})
    )
    first = next(c for c in verdict.accepted if c.item.turn_index == 0)
    assert first.box_refs == ["object:101"]


def test_count_mentions():
    assert count_mentions("Two brown dogs and 3 people stand near one bench.") == [
        ("dog", 2),
        ("person", 3),
        ("bench", 1),
    ]
    assert count_mentions("one of the dogs, at 2 o'clock, in 1990") == []


def test_grounding_flags(street, park):
    grounding = Grounding.from_image(street)
    assert (
        grounding.flags("Two people wait at the stop.") == []
    )  # man + woman, and a region says "two people"
    assert grounding.flags("Four people wait at the stop.") == ["hallucinated_count:person"]
    assert grounding.flags("Three buildings line the street.") == ["hallucinated_count:building"]
    assert grounding.flags("A cat sleeps under the bus.") == ["unknown_object:cat"]
    assert grounding.flags("There is no cat anywhere.") == []
    assert (
        grounding.flags("The bus driver and the passengers are dry.") == []
    )  # person words, people annotated
    assert grounding.flags("A tennis racket leans on a glass door.") == [
        "unknown_object:door",
        "unknown_object:racket",
    ]
    assert Grounding.from_image(park).flags("The dog and its puppy play on the lawn.") == []  # synonyms


def _park_conversations(first_answer: str) -> str:
    convs = []
    for c in range(2):
        qa = [
            {
                "question": f"What happens in the park, part {c}.{i}?",
                "answer": f"A brown dog jumps for a frisbee, part {i}.",
            }
            for i in range(5)
        ]
        convs.append({"topic": f"park {c}", "qa": qa})
    convs[0]["qa"][0]["answer"] = first_answer
    return json.dumps({"conversations": convs})


def test_too_many_flags_reject_the_qa_as_hallucination(park):
    verdict = _evaluate(
        "conversation", park, _park_conversations("A giraffe, a zebra and an elephant pass the bench.")
    )
    assert verdict.ok and len(verdict.accepted) == 9
    [rejected] = verdict.rejected
    assert rejected.reason == "hallucination"
    assert rejected.detail == "unknown_object:elephant, unknown_object:giraffe, unknown_object:zebra"
    # One flag stays on the accepted record.
    verdict = _evaluate("conversation", park, _park_conversations("A cat watches the brown dog jump."))
    assert len(verdict.accepted) == 10
    assert [c.flags for c in verdict.accepted if c.flags] == [["unknown_object:cat"]]

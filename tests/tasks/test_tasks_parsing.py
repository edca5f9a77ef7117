"""Parsing model text: strict JSON, fenced, embedded, plain-text turns; failures as reasons."""

from __future__ import annotations

import json

from svit_assets.tasks.parsing import parse_output

QA = {
    "qa": [
        {"question": "What color is the bus?", "answer": "It is red."},
        {"question": "Q2?", "answer": "A2."},
    ]
}
CONVERSATIONS = {
    "conversations": [
        {"topic": "bus", "qa": [{"question": "What is this?", "answer": "A bus."}]},
        {
            "topic": "people",
            "qa": [
                {"question": "Who waits?", "answer": "Two people."},
                {"question": "Why?", "answer": "Rain."},
            ],
        },
    ]
}


def test_strict_json():
    result = parse_output(json.dumps(QA), "qa")
    assert result.ok and result.method == "json"
    assert [(i.conversation_index, i.turn_index, i.question, i.answer) for i in result.items] == [
        (0, 0, "What color is the bus?", "It is red."),
        (0, 1, "Q2?", "A2."),
    ]


def test_conversations_keep_topic_and_indices():
    result = parse_output(json.dumps(CONVERSATIONS), "conversations")
    assert [(i.conversation_index, i.turn_index, i.topic) for i in result.items] == [
        (0, 0, "bus"),
        (1, 0, "people"),
        (1, 1, "people"),
    ]
    assert result.conversation_sizes == {0: 1, 1: 2}


def test_fenced_json_with_prose_around_it():
    text = "Sure! Here you go:\n```json\n" + json.dumps(QA, indent=2) + "\n```\nLet me know if you need more."
    result = parse_output(text, "qa")
    assert result.ok and result.method == "fenced" and len(result.items) == 2


def test_first_balanced_object_embedded_in_prose():
    text = 'Here is the result {"description": "A dog {not a cat} runs on grass."} as requested. {"other": 1}'
    result = parse_output(text, "description")
    assert result.ok and result.method == "embedded"
    assert result.items[0].answer == "A dog {not a cat} runs on grass."


def test_embedded_skips_undecodable_braces():
    text = "Note {this is not json}. " + json.dumps(QA)
    result = parse_output(text, "qa")
    assert result.ok and result.method == "embedded" and len(result.items) == 2


def test_top_level_list_and_alternative_keys():
    text = json.dumps([{"q": "Is it sunny?", "a": "Yes."}, {"Question": "Any dogs?", "Answer": "One."}])
    result = parse_output(text, "qa")
    assert result.ok and [i.question for i in result.items] == ["Is it sunny?", "Any dogs?"]
    sharegpt = json.dumps(
        {"conversations": [[{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello."}]]}
    )
    assert parse_output(sharegpt, "conversations").items[0].answer == "Hello."


def test_plain_text_question_answer_pairs():
    text = "Question: What is on the table?\nAnswer: A vase with flowers.\n\nQ: What color is the vase?\nA: It is blue,\nwith white stripes."
    result = parse_output(text, "qa")
    assert result.ok and result.method == "plain_text"
    assert [(i.question, i.answer) for i in result.items] == [
        ("What is on the table?", "A vase with flowers."),
        ("What color is the vase?", "It is blue, with white stripes."),
    ]


def test_plain_text_conversations_separated_by_rules():
    text = (
        "Topic: the dog\nUser: What animal is it?\nAssistant: A dog.\nUser: What is it doing?\nAssistant: Running.\n"
        "===\n"
        "Topic: the park\n**Q1:** Where is this?\n**A1:** In a park.\n"
    )
    result = parse_output(text, "conversations")
    assert [(i.conversation_index, i.turn_index, i.topic, i.answer) for i in result.items] == [
        (0, 0, "the dog", "A dog."),
        (0, 1, "the dog", "Running."),
        (1, 0, "the park", "In a park."),
    ]


def test_plain_text_description():
    result = parse_output("A brown dog leaps for a yellow frisbee in a sunny park.", "description")
    assert result.ok and result.method == "plain_text" and result.items[0].answer.startswith("A brown dog")


def test_failures_are_reasons_not_exceptions():
    assert parse_output("", "qa").error == "empty"
    assert parse_output(None, "qa").error == "empty"
    assert parse_output("I like turtles.", "qa").error == "no_structure"
    assert parse_output('{"error": {"message": "Rate limit reached"}}', "qa").error == "invalid_shape"
    assert parse_output('{"qa": [{"question": "cut', "qa").error == "no_structure"
    assert parse_output('Sure! {"description": "unterminated', "description").error == "no_structure"
    empty = parse_output('{"qa": []}', "qa")  # the right shape with no items: the count policy rejects it
    assert empty.ok and empty.items == ()
    assert parse_output('{"qa": [{"question": "Only a question"}]}', "qa").error == "invalid_shape"

"""Prompt folders: schemas agree with the specs, versions track content, examples pass our own validators."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from svit_assets.annotations import Box, ImageAnnotations, ObjectAnnotation, RegionAnnotation
from svit_assets.home import PROMPTS_DIR
from svit_assets.tasks.context import build_context
from svit_assets.tasks.prompts import (
    build_messages,
    folder_version,
    load_prompt_pack,
    pick_instruction,
    reask_messages,
    response_format,
)
from svit_assets.tasks.specs import TASK_SPECS
from svit_assets.tasks.validation import Grounding, evaluate_output, text_problem

LINE = re.compile(r"^(?P<name>.+): \[(?P<box>[^\]]+)\]$")


def _image_from_context(text: str) -> ImageAnnotations:
    """The annotations an example's context was written from (1000×1000 px, so boxes survive rounding)."""
    block, objects, regions, captions = "", [], [], []
    for line in text.splitlines():
        if line in ("captions:", "objects:", "relations:", "regions:"):
            block = line[:-1]
        elif block == "captions":
            captions.append(line)
        elif block in ("objects", "regions"):
            match = LINE.match(line)
            x1, y1, x2, y2 = (float(v) * 1000 for v in match["box"].split(","))
            box = Box(x1, y1, x2 - x1, y2 - y1)
            if block == "objects":
                objects.append(
                    ObjectAnnotation(len(objects) + 1, match["name"], (match["name"],), (), (), box)
                )
            else:
                regions.append(RegionAnnotation(len(regions) + 1, match["name"], box))
    return ImageAnnotations(
        1, 1000, 1000, None, None, "b", tuple(objects), (), tuple(regions), tuple(captions)
    )


@pytest.mark.parametrize("task", list(TASK_SPECS))
def test_schema_counts_match_the_spec(task):
    spec, schema = TASK_SPECS[task], load_prompt_pack(task).schema
    if spec.output_kind == "conversations":
        convs = schema["properties"]["conversations"]
        assert convs["minItems"] == convs["maxItems"] == spec.conversations
        turns = convs["items"]["properties"]["qa"]
    elif spec.output_kind == "qa":
        turns = schema["properties"]["qa"]
    else:
        assert schema["required"] == ["description"]
        return
    assert turns["minItems"] == turns["maxItems"] == spec.turns
    assert turns["items"]["required"] == ["question", "answer"]
    assert turns["items"]["additionalProperties"] is False


@pytest.mark.parametrize("task", list(TASK_SPECS))
def test_examples_pass_the_validators(task):
    spec, pack = TASK_SPECS[task], load_prompt_pack(task)
    assert len(pack.examples) >= 2
    for context_text, output in pack.examples:
        image = _image_from_context(context_text)
        context = build_context(image, spec)
        parsed, verdict = evaluate_output(spec, json.dumps(output), context, Grounding.from_image(image))
        assert verdict.ok, verdict.detail
        assert len(verdict.accepted) == spec.expected_qa and verdict.rejected == []


def test_messages_and_response_format():
    pack = load_prompt_pack("conversation")
    messages = build_messages(pack, "objects:\ndog: [0.100, 0.200, 0.300, 0.400]")
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * len(pack.examples) + ["user"]
    assert messages[0]["content"] == pack.system and "JSON" in pack.system
    assert json.loads(messages[2]["content"]) == pack.examples[0][1]
    assert messages[-1]["content"].startswith("objects:")
    assert response_format(pack) == {
        "type": "json_schema",
        "json_schema": {"name": "conversation", "schema": pack.schema, "strict": True},
    }
    again = reask_messages(
        messages, '{"conversations": []}', "it did not contain the required number of items"
    )
    assert again[: len(messages)] == messages
    assert [m["role"] for m in again[len(messages) :]] == ["assistant", "user"]
    assert "required number of items" in again[-1]["content"]
    assert [m["role"] for m in reask_messages(messages, "", "it was empty")[len(messages) :]] == ["user"]


def test_version_is_a_hash_of_the_folder_contents(tmp_path):
    shutil.copytree(PROMPTS_DIR / "referring_qa", tmp_path / "referring_qa")
    before = folder_version(tmp_path / "referring_qa")
    assert before == load_prompt_pack("referring_qa").version and len(before) == 12
    system = tmp_path / "referring_qa" / "system.md"
    system.write_text(system.read_text() + "\nBe brief.")
    assert folder_version(tmp_path / "referring_qa") != before
    assert load_prompt_pack("referring_qa", tmp_path).version == folder_version(tmp_path / "referring_qa")


def test_instructions_are_varied_and_picked_stably():
    pack = load_prompt_pack("detail_description")
    assert len(pack.instructions) >= 30 and "Describe the image in detail." in pack.instructions
    picks = [pick_instruction(pack, image_id) for image_id in range(300)]
    assert picks == [pick_instruction(pack, image_id) for image_id in range(300)]
    assert len(set(picks)) >= 25
    assert pick_instruction(load_prompt_pack("conversation"), 1) == ""
    assert not [text for text in pack.instructions if text_problem(text)]  # they become record questions

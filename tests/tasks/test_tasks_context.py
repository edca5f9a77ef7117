"""Context builder: normalised 3-decimal boxes, de-duplication, token-budget truncation, thin images."""

from __future__ import annotations

import dataclasses
import re

from svit_assets.tasks.context import build_context, count_tokens
from svit_assets.tasks.specs import TASK_SPECS

CONVERSATION = TASK_SPECS["conversation"]
REFERRING = TASK_SPECS["referring_qa"]
BOX = re.compile(r"\[(\d\.\d{3}), (\d\.\d{3}), (\d\.\d{3}), (\d\.\d{3})\]$")


def test_blocks_and_normalised_three_decimal_boxes(street):
    context = build_context(street, CONVERSATION)
    text = context.text
    assert context.skip_reason is None
    assert text.startswith("captions:\nA red double-decker bus drives down a city street.\n")
    assert [line for line in text.splitlines() if line.endswith(":")] == [
        "captions:",
        "objects:",
        "relations:",
        "regions:",
    ]
    assert "red bus: [0.212, 0.184, 0.768, 0.873]" in text  # attribute enriches the name
    assert "black umbrella: [0.870, 0.318, 0.987, 0.452]" in text
    assert "street: [0.000, 0.721, 1.000, 1.000]" in text.replace("wet street", "street")
    assert "woman holding umbrella" in text
    assert "two people standing at a bus stop: [0.800, 0.310, 0.990, 0.870]" in text
    block = None
    for line in text.splitlines():
        if line.endswith(":"):
            block = line[:-1]
        elif block in ("objects", "regions"):
            x1, y1, x2, y2 = map(float, BOX.search(line).groups())
            assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
    assert context.tokens == count_tokens(text)
    assert {g.ref for g in context.boxes} >= {"object:101", "object:105", "region:202"}


def test_same_name_iou_09_duplicates_are_merged(street):
    context = build_context(street, CONVERSATION)
    assert context.duplicates_removed == 1  # bus 102 overlaps bus 101 with IoU > 0.9
    assert sum(line.endswith("bus: [0.212, 0.184, 0.768, 0.873]") for line in context.text.splitlines()) == 1
    assert "object:102" not in {g.ref for g in context.boxes}
    assert context.objects_kept == 9 and context.objects_dropped == 0
    # Same box, different name: not a duplicate.
    renamed = dataclasses.replace(
        street,
        objects=tuple(
            dataclasses.replace(o, name="coach") if o.object_id == 102 else o for o in street.objects
        ),
    )
    assert build_context(renamed, CONVERSATION).duplicates_removed == 0


def test_truncates_to_the_token_budget_and_counts_what_was_dropped(scenes):
    many_objects = [
        (1000 + i, f"bottle {i}", (0.01 * (i % 50), 0.3, 0.01 * (i % 50) + 0.2, 0.5), ()) for i in range(80)
    ]
    many_regions = [
        (2000 + i, f"a green bottle number {i} on a shelf", (0.0, 0.01 * (i % 40), 0.5, 0.6), ())
        for i in range(80)
    ]
    image = scenes["scene"](
        77,
        objects=many_objects,
        regions=[(rid, phrase, box) for rid, phrase, box, _ in many_regions],
        captions=("Rows of bottles stand on wooden shelves.",),
    )
    spec = dataclasses.replace(CONVERSATION, context_tokens=300)
    context = build_context(image, spec)
    assert context.tokens <= 300
    assert context.tokens == count_tokens(context.text)
    assert context.objects_kept + context.objects_dropped == 80
    assert context.regions_kept + context.regions_dropped == 80
    assert context.objects_dropped > 0 and context.regions_dropped > 0
    assert context.tokens_dropped > 0
    assert "Rows of bottles stand on wooden shelves." in context.text  # captions have priority
    # Both blocks are represented: objects and regions are interleaved by rank.
    assert context.objects_kept > 3 and context.regions_kept > 3
    # Grounding may use every annotation, the ones in the text first.
    assert len(context.boxes) == 160
    shown = context.objects_kept + context.regions_kept
    assert all(f"{g.name}: [" in context.text for g in context.boxes[:shown])
    assert not any(f"{g.name}: [" in context.text for g in context.boxes[shown:])
    # A roomy budget keeps everything.
    roomy = build_context(image, dataclasses.replace(CONVERSATION, context_tokens=20_000))
    assert roomy.objects_dropped == 0 and roomy.regions_dropped == 0 and roomy.tokens_dropped == 0


def test_ranking_puts_large_attributed_related_objects_first(park):
    lines = build_context(park, CONVERSATION).text.split("objects:\n")[1].split("\n")
    assert lines[0].startswith("green grass")  # large and attributed
    assert lines.index("brown jumping dog: [0.355, 0.298, 0.642, 0.715]") < lines.index(
        "tree: [0.000, 0.000, 0.241, 0.702]"
    )


def test_thin_images_are_skipped_with_a_reason(thin, street, scenes):
    context = build_context(thin, CONVERSATION)
    assert context.skip_reason == "thin_context"
    assert context.skip_detail == "0 captions, 2 objects, 1 regions"
    # A caption is enough context for a conversation ...
    captioned = dataclasses.replace(thin, captions=("A lamp hangs on a white wall.",))
    assert build_context(captioned, CONVERSATION).skip_reason is None
    # ... but referring QA needs boxes to refer to.
    assert build_context(captioned, REFERRING).skip_reason is None  # 2 objects + 1 region = 3 boxes
    bare = scenes["scene"](14, objects=[(1, "lamp", (0.4, 0.1, 0.5, 0.3), ())], captions=("A lamp.",))
    assert build_context(bare, REFERRING).skip_reason == "too_few_boxes"
    assert build_context(street, TASK_SPECS["complex_reasoning"]).skip_reason is None


def test_deterministic(street):
    assert build_context(street, CONVERSATION) == build_context(street, CONVERSATION)


def test_real_visual_genome_images_fit_the_budget(vg_images):
    for spec in TASK_SPECS.values():
        for image in vg_images:
            context = build_context(image, spec)
            assert context.tokens <= spec.context_tokens
            assert context.skip_reason is None  # every sample image has dozens of regions
            assert context.objects_kept > 0 or not image.objects
            refs = [g.ref for g in context.boxes]
            assert len(refs) == len(set(refs))

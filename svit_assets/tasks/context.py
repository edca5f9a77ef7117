"""The SVIT context text a model (or a reviewer) sees for one image, built the same way for every task.

Blocks (in the spec's order, empty blocks omitted)::

    captions:
    A man rides a horse on the beach.
    objects:
    brown horse: [0.312, 0.284, 0.745, 0.901]
    relations:
    man riding horse
    regions:
    a man riding a horse: [0.300, 0.100, 0.760, 0.910]

Boxes are normalised [x1, y1, x2, y2] with three decimals, the form the referring task copies back.
Visual Genome repeats objects and regions heavily, so the builder removes duplicates (same name, IoU ≥ 0.9),
ranks what is left (large, attribute-bearing and related objects first; regions by size and by how much
they add beyond object names), and keeps the best lines that fit the spec's token budget, recording what
it dropped so truncation stays visible in metrics.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import zip_longest

import numpy as np

from svit_assets.annotations import Box, ImageAnnotations, iou_xyxy
from svit_assets.llm.tokens import count_text
from svit_assets.tasks.specs import TaskSpec

DEDUP_IOU = 0.9
MAX_CAPTIONS = 5
MAX_ATTRIBUTES = 2
_SIMILAR_IOU = 0.7
_TINY_AREA = 0.0005  # share of the image below which an object is barely visible
_STOPWORDS = {
    "a",
    "an",
    "the",
    "of",
    "on",
    "in",
    "at",
    "with",
    "and",
    "to",
    "is",
    "are",
    "its",
    "near",
    "by",
    "for",
}


@dataclass(frozen=True)
class GroundingBox:
    ref: str  # "object:<id>" or "region:<id>"
    name: str
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class TaskContext:
    text: str
    tokens: int
    objects_kept: int
    objects_dropped: int  # de-duplicated objects left out (budget or degenerate box)
    regions_kept: int
    regions_dropped: int
    skip_reason: str | None  # None: send; otherwise a stable code and the image is not generated
    # Every de-duplicated annotated box, those shown in the text first: a referenced box is grounded when it
    # matches any annotation, also one the budget left out of the text.
    boxes: tuple[GroundingBox, ...]
    relations_kept: int = 0
    relations_dropped: int = 0
    duplicates_removed: int = 0  # objects and regions merged into an identical neighbour
    tokens_dropped: int = 0  # tokens of the untruncated text minus tokens of the kept text
    skip_detail: str = ""


def count_tokens(text: str) -> int:
    """cl100k tokens from the bundled offline encoding (never a download); len/4 when it is unavailable."""
    return count_text(text)


def format_box(box: tuple[float, float, float, float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in box) + "]"


def clean_label(text: str) -> str:
    """Lower-case, single-spaced, without the characters the `name: [box]` line format relies on."""
    text = re.sub(r"[:\[\]<>{}\n\r\t]", " ", text or "")
    return re.sub(r"\s+", " ", text).strip(" .,;").lower()


def _clean_caption(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _valid(box: tuple[float, float, float, float]) -> bool:
    return box[0] < box[2] and box[1] < box[3]


@dataclass
class _Line:
    block: str
    text: str
    score: float
    tokens: int = 0
    ref: str = ""
    name: str = ""
    box: tuple[float, float, float, float] | None = None
    members: tuple[int, ...] = ()  # object ids a relation line needs


def _dedup(items: list[tuple[str, Box, int]]) -> tuple[list[tuple[str, Box, int, list[int]]], int]:
    """Greedy same-name IoU ≥ 0.9 merge; the kept item lists the ids merged into it."""
    kept: list[tuple[str, Box, int, list[int]]] = []
    by_name: dict[str, list[int]] = {}
    removed = 0
    for name, box, item_id in items:
        for index in by_name.get(name, ()):
            if kept[index][1].iou(box) >= DEDUP_IOU:
                kept[index][3].append(item_id)
                removed += 1
                break
        else:
            by_name.setdefault(name, []).append(len(kept))
            kept.append((name, box, item_id, [item_id]))
    return kept, removed


def _object_lines(image: ImageAnnotations) -> tuple[list[_Line], int, int, dict[int, str]]:
    """Ranked object lines, duplicates removed, degenerate boxes counted, id → cleaned name for relations."""
    objects = sorted(image.objects, key=lambda o: (-len(o.attributes), -o.box.area, o.object_id))
    names = {o.object_id: clean_label(o.name or (o.names[0] if o.names else "")) for o in image.objects}
    kept, removed = _dedup([(names[o.object_id], o.box, o.object_id) for o in objects if names[o.object_id]])
    by_id = image.object_by_id()
    related = {r.subject_id for r in image.relationships} | {r.object_id for r in image.relationships}
    frame = float(image.width * image.height)
    lines, degenerate = [], 0
    for name, box, object_id, merged in kept:
        nbox = box.normalized(image.width, image.height)
        if not _valid(nbox):
            degenerate += 1
            continue
        attributes: list[str] = []
        for merged_id in merged:
            for attribute in by_id[merged_id].attributes:
                attribute = clean_label(attribute).replace("gray", "grey")
                if (
                    attribute
                    and len(attribute) <= 20
                    and len(attribute.split()) <= 2
                    and attribute not in attributes
                    and attribute not in name.split()
                ):
                    attributes.append(attribute)
        label = " ".join([*attributes[:MAX_ATTRIBUTES], name])
        share = box.area / frame
        score = math.sqrt(share) + 0.2 * bool(attributes) + 0.2 * any(m in related for m in merged)
        score -= 0.2 * (share < _TINY_AREA)
        lines.append(
            _Line(
                "objects",
                f"{label}: {format_box(nbox)}",
                score,
                ref=f"object:{object_id}",
                name=label,
                box=nbox,
                members=tuple(merged),
            )
        )
    lines.sort(key=lambda line: (-line.score, line.ref))
    return lines, removed, degenerate, names


def _region_lines(image: ImageAnnotations, object_lines: list[_Line]) -> tuple[list[_Line], int, int]:
    """Ranked region lines; a region repeating an object line (same words, IoU ≥ 0.9) is a duplicate."""
    items = [
        (clean_label(r.phrase), r.box, r.region_id)
        for r in sorted(image.regions, key=lambda r: (-r.box.area, r.region_id))
    ]
    kept, removed = _dedup([item for item in items if item[0]])
    object_words = {w for line in object_lines for w in line.name.split()}
    object_boxes = {}
    for line in object_lines:
        object_boxes.setdefault(line.name, []).append(line.box)
    frame = float(image.width * image.height)
    lines, degenerate = [], 0
    for phrase, box, region_id, _ in kept:
        nbox = box.normalized(image.width, image.height)
        if not _valid(nbox):
            degenerate += 1
            continue
        bare = re.sub(r"^(a|an|the)\s+", "", phrase)
        if any(iou_xyxy(nbox, other) >= DEDUP_IOU for other in object_boxes.get(bare, ())):
            removed += 1
            continue
        words = [w for w in phrase.split() if w not in _STOPWORDS]
        novelty = sum(w not in object_words for w in words) / len(words) if words else 0.0
        score = math.sqrt(box.area / frame) + 0.3 * novelty + 0.1 * min(len(words), 8) / 8
        lines.append(
            _Line(
                "regions",
                f"{phrase}: {format_box(nbox)}",
                score,
                ref=f"region:{region_id}",
                name=phrase,
                box=nbox,
            )
        )
    lines.sort(key=lambda line: (-line.score, line.ref))
    # Diversity: a region mostly covering a better-ranked one (IoU ≥ 0.7) says much the same; rank it later.
    boxes = [line.box for line in lines]
    overlap = iou_matrix(boxes, boxes)
    first: list[int] = []
    later: list[int] = []
    for index in range(len(lines)):
        similar = bool(first) and overlap[index, first].max() >= _SIMILAR_IOU
        (later if similar else first).append(index)
    return [lines[i] for i in first + later], removed, degenerate


def iou_matrix(a: list | np.ndarray, b: list | np.ndarray) -> np.ndarray:
    """IoU of every [x1, y1, x2, y2] box in `a` with every box in `b`, at once (VG images carry hundreds)."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    width = np.clip(
        np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None
    )
    height = np.clip(
        np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None
    )
    inter = width * height
    union = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None] + (
        (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    )[None, :]
    union = union - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _relation_lines(image: ImageAnnotations, names: dict[int, str], rank: dict[int, int]) -> list[_Line]:
    """Unique `subject predicate object` lines, ordered by how prominent their objects are."""
    lines: dict[str, _Line] = {}
    for rel in sorted(image.relationships, key=lambda r: r.relationship_id):
        subject = names.get(rel.subject_id) or clean_label(rel.subject_name)
        obj = names.get(rel.object_id) or clean_label(rel.object_name)
        predicate = clean_label(rel.predicate)
        if not (subject and obj and predicate):
            continue
        text = f"{subject} {predicate} {obj}"
        if text not in lines:
            worst = max(rank.get(rel.subject_id, 10**6), rank.get(rel.object_id, 10**6))
            lines[text] = _Line("relations", text, -worst, members=(rel.subject_id, rel.object_id))
    return sorted(lines.values(), key=lambda line: (-line.score, line.text))


def _render(blocks: tuple[str, ...], chosen: list[_Line]) -> str:
    parts = []
    for block in blocks:
        lines = [line.text for line in chosen if line.block == block]
        if lines:
            parts.append(f"{block}:\n" + "\n".join(lines))
    return "\n".join(parts)


def build_context(image: ImageAnnotations, spec: TaskSpec) -> TaskContext:
    """The context for one image and task, or a skip reason when the image is too thin for the task."""
    if image.width <= 0 or image.height <= 0:
        return TaskContext(
            "", 0, 0, 0, 0, 0, "no_image_size", (), skip_detail=f"{image.width}x{image.height}"
        )
    captions: list[_Line] = []
    if "captions" in spec.blocks:
        seen: set[str] = set()
        for caption in image.captions:
            text = _clean_caption(caption)
            if text and text.lower() not in seen and len(captions) < MAX_CAPTIONS:
                seen.add(text.lower())
                captions.append(_Line("captions", text, 0.0))
    objects, object_dupes, object_degenerate, names = (
        _object_lines(image) if "objects" in spec.blocks else ([], 0, 0, {})
    )
    regions, region_dupes, region_degenerate = (
        _region_lines(image, objects) if "regions" in spec.blocks else ([], 0, 0)
    )
    object_rank = {member: index for index, line in enumerate(objects) for member in line.members}
    relations = _relation_lines(image, names, object_rank) if "relations" in spec.blocks else []

    # Priority: captions, then objects and regions alternating by rank, then relations between kept objects.
    budget = spec.context_tokens
    headers = {block: count_tokens(f"{block}:\n") for block in spec.blocks}
    chosen: list[_Line] = []
    opened: set[str] = set()
    used = 0

    def offer(line: _Line) -> None:
        nonlocal used
        line.tokens = line.tokens or count_tokens(line.text + "\n")
        cost = line.tokens + (headers[line.block] if line.block not in opened else 0)
        if used + cost <= budget:
            chosen.append(line)
            opened.add(line.block)
            used += cost

    for line in captions:
        offer(line)
    for pair in zip_longest(objects, regions):
        for line in pair:
            if line is not None:
                offer(line)
    kept_ids = {m for line in chosen if line.block == "objects" for m in line.members}
    for line in relations:
        if all(m in kept_ids for m in line.members):
            offer(line)
    text = _render(spec.blocks, chosen)
    tokens = count_tokens(text)
    while tokens > budget and chosen:  # line-wise counts can undershoot at line joins
        chosen.pop()
        text = _render(spec.blocks, chosen)
        tokens = count_tokens(text)

    full_tokens = count_tokens(_render(spec.blocks, [*captions, *objects, *regions, *relations]))
    kept = {
        block: sum(line.block == block for line in chosen) for block in ("objects", "regions", "relations")
    }
    shown = [line for line in chosen if line.box is not None]
    shown_ids = {id(line) for line in shown}
    unseen = [line for line in (*objects, *regions) if id(line) not in shown_ids]
    boxes = tuple(GroundingBox(line.ref, line.name, line.box) for line in (*shown, *unseen))
    skip_reason, skip_detail = None, ""
    if not captions and len(objects) < spec.min_objects and len(regions) < spec.min_regions:
        skip_reason = "thin_context"
        skip_detail = f"0 captions, {len(objects)} objects, {len(regions)} regions"
    elif spec.grounded and len(shown) < spec.min_boxes:
        skip_reason = "too_few_boxes"
        skip_detail = f"{len(shown)} boxes in context, need {spec.min_boxes}"
    return TaskContext(
        text=text,
        tokens=tokens,
        objects_kept=kept["objects"],
        objects_dropped=len(objects) + object_degenerate - kept["objects"],
        regions_kept=kept["regions"],
        regions_dropped=len(regions) + region_degenerate - kept["regions"],
        skip_reason=skip_reason,
        boxes=boxes,
        relations_kept=kept["relations"],
        relations_dropped=len(relations) - kept["relations"],
        duplicates_removed=object_dupes + region_dupes,
        tokens_dropped=max(full_tokens - tokens, 0),
        skip_detail=skip_detail,
    )

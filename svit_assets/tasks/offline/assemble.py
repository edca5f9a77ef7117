"""Turning question candidates into the conversation and referring-QA outputs.

Candidates are drawn round-robin across question kinds (so an image yields a mix, not fifteen color
questions), never twice for the same fact, the same normalised wording or the same (kind family, entity)
— "Is the car parked?" and "Where is the car parked?" are one question — and spread over entities.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import replace

from . import questions as qs
from .english import normalized_question
from .phrasing import Writer
from .questions import QA
from .scene import Scene

# The order questions are asked in within a conversation: the big picture first, then the details.
FLOW = (
    "happening",
    "overview",
    "place",
    "setting",
    "weather",
    "exist",
    "count",
    "absent",
    "doing",
    "describe",
    "relation",
    "relation_yn",
    "where",
    "where_yn",
    "color",
    "color_yn",
    "material",
    "state",
    "relation_inv",
    "position",
    "position_v",
    "zone",
    "compare_left",
    "compare_size",
    "compare_color",
    "only_one",
)
_FLOW_RANK = {kind: i for i, kind in enumerate(FLOW)}


class Picker:
    """Remembers what an image's output already asked and said, across all of its conversations."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.questions: set[str] = set()
        self.facts: set[tuple] = set()
        self.revealed: set[tuple] = set()
        self.topics: set[tuple] = set()
        self.focus_use: Counter[int] = Counter()
        self.kind_use: Counter[str] = Counter()

    def fresh(self, qa: QA) -> bool:
        """Not the same wording, fact or (kind family, entity) again, nor an answer restating a said relation."""
        if normalized_question(qa.question) in self.questions or qa.key in self.facts:
            return False
        return not (qa.topics & self.topics or qa.reveals & self.revealed)

    def take(self, qa: QA) -> None:
        self.questions.add(normalized_question(qa.question))
        self.facts.add(qa.key)
        self.revealed |= qa.reveals
        self.topics |= qa.topics
        self.kind_use[qa.kind] += 1
        for index in qa.focus[:1]:
            self.focus_use[index] += 1

    def pick(
        self, candidates: list[QA], n: int, *, per_focus: int = 2, per_kind: int | None = None
    ) -> list[QA]:
        """Up to n fresh candidates, one kind at a time in a shuffled round-robin, spread over entities."""
        by_kind: dict[str, list[QA]] = {}
        for qa in candidates:
            by_kind.setdefault(qa.kind, []).append(qa)
        for group in by_kind.values():
            self.rng.shuffle(group)
        kinds = sorted(by_kind)
        self.rng.shuffle(kinds)
        chosen: list[QA] = []
        progressed = True
        while len(chosen) < n and progressed:
            progressed = False
            for kind in kinds:
                if len(chosen) >= n or per_kind is not None and self.kind_use[kind] >= per_kind:
                    continue
                group = by_kind[kind] = [qa for qa in by_kind[kind] if self.fresh(qa)]
                if not group:
                    continue
                spread = [qa for qa in group if not qa.focus or self.focus_use[qa.focus[0]] < per_focus]
                qa = (spread or group)[0]
                group.remove(qa)
                self.take(qa)
                chosen.append(qa)
                progressed = True
        return chosen


def _in_flow_order(qas: list[QA]) -> list[QA]:
    return sorted(qas, key=lambda qa: _FLOW_RANK.get(qa.kind, len(FLOW)))


def _follow_up(qas: list[QA], mention: str, pronoun: str) -> list[QA]:
    """Later questions about the conversation's subject refer back to it: 'What is he wearing?'."""
    # not "Are the cat and the rug …": a pronoun cannot open a compound subject ("Are it and the rug")
    pattern = re.compile(rf"\b(is|are|does|do) {re.escape(mention)}(?=[?,]| (?!and\b))", re.IGNORECASE)
    return qas[:1] + [
        replace(qa, question=pattern.sub(rf"\1 {pronoun}", qa.question, count=1)) for qa in qas[1:]
    ]


def _details_topic(qas: list[QA]) -> str:
    kinds = Counter(qa.kind for qa in qas)
    layout = sum(kinds[k] for k in ("position", "position_v", "zone", "compare_left", "compare_size"))
    looks = sum(kinds[k] for k in ("color", "color_yn", "material", "state", "compare_color"))
    if layout >= 3:
        return "where things are"
    if looks >= 3:
        return "colors and materials"
    return "details of the scene"


def conversation_candidates(scene: Scene, w: Writer, rng: random.Random) -> list[QA]:
    return [
        *qs.scene_questions(scene, w, rng),
        *qs.existence_questions(scene, w, rng),
        *qs.count_questions(scene, w, rng),
        *qs.relation_questions(scene, w, rng),
        *qs.attribute_questions(scene, w, rng),
        *qs.describe_questions(scene, w, rng),
        *qs.position_questions(scene, w, rng),
        *qs.comparison_questions(scene, w, rng),
    ]


def conversations(
    scene: Scene, rng: random.Random, *, n_conversations: int = 3, turns: int = 5
) -> list[dict]:
    if not scene.entities:
        return []
    w = Writer(scene)
    candidates = conversation_candidates(scene, w, rng)
    picker = Picker(rng)
    plans: list[tuple[str, list[QA]]] = []

    overview = picker.pick([qa for qa in candidates if qa.topic == "scene"], turns)
    plans.append(("the overall scene", overview))

    focus_counts = Counter(
        qa.focus[0] for qa in candidates if qa.focus and qa.topic == "subject" and picker.fresh(qa)
    )
    subject = next((e for e in scene.ranked() if focus_counts[e.index] >= 3 and w.the(e)), None)
    if subject is not None:
        mention = w.the(subject)
        about = picker.pick(
            [qa for qa in candidates if qa.focus[:1] == (subject.index,) and qa.topic != "scene"],
            turns,
            per_focus=turns,
        )
        plans.append((mention, about))

    rest = [qa for qa in candidates if qa.topic != "scene"]
    while len(plans) < n_conversations:
        details = picker.pick(rest, turns)
        if not details:
            break
        plans.append((_details_topic(details), details))

    for i, (topic, qas) in enumerate(plans):  # top up short conversations with anything still unasked
        if len(qas) < turns and i > 0:  # a conversation about a subject or details stays off the big picture
            qas.extend(picker.pick(rest, turns - len(qas)))
        if len(qas) < turns:
            qas.extend(picker.pick(candidates, turns - len(qas)))
        ordered = _in_flow_order(qas)
        if subject is not None and i == 1:
            ordered = _follow_up(ordered, w.the(subject), subject.pronoun)
        plans[i] = (topic, ordered)
    return [
        {"topic": topic, "qa": [{"question": qa.question, "answer": qa.answer} for qa in qas]}
        for topic, qas in plans
        if qas
    ]


def referring(scene: Scene, rng: random.Random, *, n: int = 10) -> list[dict]:
    if not scene.entities:
        return []
    w = Writer(scene, grounded=True)
    candidates = [
        *qs.relation_questions(scene, w, rng),
        *qs.attribute_questions(scene, w, rng),
        *qs.describe_questions(scene, w, rng),
        *qs.position_questions(scene, w, rng),
        *qs.comparison_questions(scene, w, rng),
        *qs.only_one_questions(scene, w, rng),
    ]
    grounded = [qa for qa in candidates if "<st>" in qa.question and "<st>" in qa.answer]
    chosen = Picker(rng).pick(grounded, n)
    return [{"question": qa.question, "answer": qa.answer} for qa in chosen]

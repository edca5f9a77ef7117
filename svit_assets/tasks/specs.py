"""One :class:`TaskSpec` per SVIT task; everything else (context, prompts, parsing, validation, generation,
checks, the Dagster asset factory) is generic over the spec, so a task is added or tuned here only.

Count policy (why short outputs are sometimes kept): models often drop a turn or two, and re-asking for a
full set costs a whole new completion. An output is therefore accepted when it still carries at least
``min_conversations`` conversations of ``min_turns`` valid turns (``min_qa`` items for single-list tasks);
anything less is rejected as ``wrong_count`` (or with the reason that removed the items) and re-asked.
Items beyond the expected counts are trimmed and quarantined as ``over_count``, so every accepted image
has between ``min_qa`` and ``expected_qa`` records.

Thin-context policy (why some images are never sent): a model asked for 15 questions about an image with
two objects invents the rest. ``thin_context``: no captions and fewer than ``min_objects`` objects and
fewer than ``min_regions`` regions (after de-duplication). Grounded tasks also need ``min_boxes`` boxes to
refer to (``too_few_boxes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from svit_assets.home import PROMPTS_DIR

# (name, blocking, description): what the asset factory declares as asset checks for every task.
TASK_CHECKS: tuple[tuple[str, bool, str], ...] = (
    ("parse_rate", False, "Share of sent images whose final model output parsed into the task JSON."),
    ("quarantine_rate", False, "Share of sent images quarantined, by reason (skipped images excluded)."),
    ("qa_counts", True, "Every accepted image has between the spec's minimum and expected QA pairs."),
    (
        "box_validity",
        True,
        "Referenced boxes lie in [0, 1] with x1 < x2, y1 < y2 and resolve to annotations.",
    ),
    ("no_refusal_or_leak", True, "No accepted record contains refusals, error text or context leaks."),
)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    description: str
    output_kind: str  # "conversations" | "qa" | "description": the JSON shape the parser expects
    conversations: int  # expected conversations per image (1 for single-list tasks)
    turns: int  # expected QA per conversation
    min_conversations: int
    min_turns: int
    context_tokens: int  # budget for the context text (tiktoken cl100k)
    max_tokens: int
    temperature: float
    blocks: tuple[str, ...]  # context blocks, in order: captions, objects, relations, regions
    min_objects: int = 3
    min_regions: int = 3
    min_boxes: int = 0
    grounded: bool = False  # answers must reference boxes as <st>name<ed> [x1, y1, x2, y2]
    question_chars: tuple[int, int] | None = (8, 400)  # None: the question is a fixed instruction
    answer_chars: tuple[int, int] = (8, 1500)
    max_flags_per_qa: int = 2  # more grounding flags than this rejects the QA as `hallucination`
    max_attempts: int = 3  # first request + at most two re-asks
    top_p: float = 1.0
    group: str = "task_sets"
    min_parse_rate: float = 0.8
    max_quarantine_rate: float = 0.2

    @property
    def expected_qa(self) -> int:
        return self.conversations * self.turns

    @property
    def min_qa(self) -> int:
        return self.min_conversations * self.min_turns

    @property
    def prompt_dir(self) -> Path:
        return PROMPTS_DIR / self.name

    @property
    def checks(self) -> tuple[tuple[str, bool, str], ...]:
        return TASK_CHECKS


_BLOCKS = ("captions", "objects", "relations", "regions")

CONVERSATION = TaskSpec(
    name="conversation",
    description="Three multi-turn conversations (5 QA each) about the visible content of every image.",
    output_kind="conversations",
    conversations=3,
    turns=5,
    min_conversations=2,
    min_turns=3,
    context_tokens=1200,
    max_tokens=2500,
    temperature=0.7,
    blocks=_BLOCKS,
    question_chars=(8, 300),
    answer_chars=(8, 1200),
)

COMPLEX_REASONING = TaskSpec(
    name="complex_reasoning",
    description="Fifteen questions per image whose answers reason step by step beyond the visible content.",
    output_kind="qa",
    conversations=1,
    turns=15,
    min_conversations=1,
    min_turns=10,
    context_tokens=1200,
    max_tokens=3500,
    temperature=0.7,
    blocks=_BLOCKS,
    min_objects=5,
    min_regions=5,
    question_chars=(12, 400),
    answer_chars=(40, 2500),
    max_flags_per_qa=3,  # reasoning mentions plausible, unannotated things (e.g. what may happen next)
)

DETAIL_DESCRIPTION = TaskSpec(
    name="detail_description",
    description="One detailed multi-paragraph description per image, under one of ~30 instructions.",
    output_kind="description",
    conversations=1,
    turns=1,
    min_conversations=1,
    min_turns=1,
    context_tokens=1500,
    max_tokens=1200,
    temperature=0.6,
    blocks=_BLOCKS,
    question_chars=None,
    answer_chars=(200, 6000),
    max_flags_per_qa=4,  # one long text: a few unannotated background nouns are normal
)

REFERRING_QA = TaskSpec(
    name="referring_qa",
    description="Ten QA pairs per image that refer to objects and regions as <st>name<ed> [x1, y1, x2, y2].",
    output_kind="qa",
    conversations=1,
    turns=10,
    min_conversations=1,
    min_turns=6,
    context_tokens=1000,
    max_tokens=2000,
    temperature=0.4,  # boxes must be copied exactly
    blocks=_BLOCKS,
    min_boxes=3,
    grounded=True,
    question_chars=(12, 500),
    answer_chars=(12, 1000),
)

TASK_SPECS: dict[str, TaskSpec] = {
    spec.name: spec for spec in (CONVERSATION, COMPLEX_REASONING, DETAIL_DESCRIPTION, REFERRING_QA)
}

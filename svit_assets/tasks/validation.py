"""Validators for parsed task outputs, with stable reason codes for the quarantine and the checks.

Output-level reasons (the whole output is re-asked, and quarantined once attempts run out):
`empty_output`, `parse_error`, `truncated` (finish_reason length), `content_filter`, `llm_failed`,
`refusal` / `error_text` (the raw text is a refusal or an HTTP error body), `wrong_count` (the output's
structure is below the spec's minimum). When item-level rejections leave fewer valid items than the
minimum, the output fails with the most frequent item reason (e.g. a fully leaking output is `leak`).

Item-level reasons (the QA is dropped, the rest of the output may still be accepted): `refusal`,
`error_text`, `leak`, `too_short`, `too_long`, `duplicate_question`, `bad_box`, `unmatched_box`,
`missing_reference`, `hallucination`, `over_count` (beyond the expected count), `short_conversation`
(a conversation left with fewer than `min_turns` valid turns).

Grounding flags stay on accepted records: `hallucinated_count:<noun>` (a stated count that matches neither
the de-duplicated annotation count nor a count in a caption or region phrase) and `unknown_object:<noun>`
(a common visual noun absent from every annotation, phrase and caption). More flags than the spec's
`max_flags_per_qa` reject the QA as `hallucination`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from svit_assets.annotations import ImageAnnotations, iou_xyxy
from svit_assets.tasks.context import DEDUP_IOU, TaskContext, clean_label, iou_matrix
from svit_assets.tasks.parsing import ParseResult, QAItem, parse_output
from svit_assets.tasks.specs import TaskSpec

MATCH_IOU = 0.5

SKIP_REASONS = ("thin_context", "too_few_boxes", "no_image_size")
OUTPUT_REASONS = (
    "empty_output",
    "parse_error",
    "truncated",
    "content_filter",
    "llm_failed",
    "refusal",
    "error_text",
    "wrong_count",
)
ITEM_REASONS = (
    "refusal",
    "error_text",
    "leak",
    "bad_box",
    "unmatched_box",
    "missing_reference",
    "too_short",
    "too_long",
    "duplicate_question",
    "hallucination",
    "over_count",
    "short_conversation",
)

_REFUSAL = re.compile(
    r"\bI['’]?m (?:so )?sorry\b|\bI am sorry\b|\bI apologi[sz]e\b|\bas an AI\b|\bas an? (?:large )?language model\b"
    r"|\bI (?:cannot|can['’]t|can not|am unable to|am not able to|won['’]t be able to)\b(?! (?:see|find|spot) any\b)"
    r"|\bI['’]m (?:unable|not able) to\b"
    r"|\bI (?:do not|don['’]t) have (?:access|the ability)\b|\bunable to (?:view|see|access) (?:the |this |any )?(?:image|photo|picture)",
    re.IGNORECASE,
)
_ERROR_TEXT = re.compile(
    r"^\s*\{\s*\"error\"\s*:|\"error\"\s*:\s*\{|\binternal server error\b|\brate[ -]?limit|\byour message is empty\b"
    r"|\bbad gateway\b|\bservice unavailable\b|\bgateway time-?out\b|\btraceback \(most recent call last\)"
    r"|\bmaximum context length\b|\bupstream connect error\b|<\s*html\b|\bHTTP(?:/\d(?:\.\d)?)? [45]\d\d\b",
    re.IGNORECASE,
)
_LEAK = re.compile(
    r"\bcaption(?:s|ed)?\b|\bbounding[\s-]*box(?:es)?\b|\bbbox(?:es)?\b|\bcoordinates?\b|\bthe descriptions?\b"
    r"|\baccording to the (?:regions?|captions?|descriptions?|annotations?|objects?|information|data|context|details|text)\b"
    r"|\bannotat(?:ed|ion|ions)\b|\bregion descriptions?\b|\bnormali[sz]ed\b"
    r"|\b(?:given|provided) (?:information|context|details|data|text|list)\b|\bthe (?:objects|regions|relations) (?:list|block)\b",
    re.IGNORECASE,
)
_BARE_BOX = re.compile(r"\[\s*-?\d*\.?\d+\s*(?:,\s*-?\d*\.?\d+\s*){3}\]")
_REFERENCE = re.compile(r"<st>(?P<name>.*?)<ed>\s*\[(?P<numbers>[^\]]*)\]", re.DOTALL)
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*|\d+(?:\.\d+)?")

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20,
}  # fmt: skip
_NEGATIONS = frozenset(
    {"no", "not", "without", "never", "neither", "nor", "nothing", "none", "t", "isn", "aren"}
)


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PRONOUNS = _wordset("he she it they who which that we you i")
_FUNCTION_WORDS = _wordset(
    "a an the of on in at to for from with by and or but is are was were be been this that these those there "
    "it its their his her they them he she we you i as into onto over under about than then so very"
)

# Concrete things a photo shows. A word here that no annotation, phrase or caption supports is flagged as
# an unknown object. Scene words (area, background), words that are mostly verbs or adjectives in image
# talk (watch, can, remote, orange, picture, camera) and abstract nouns are deliberately absent.
VISUAL_NOUNS = _wordset(
    """
    person man woman boy girl child kid baby people player skier surfer skateboarder rider driver
    passenger pedestrian crowd lady guy adult teenager toddler cyclist biker officer chef
    dog puppy cat kitten horse pony cow calf sheep lamb goat pig elephant bear zebra giraffe bird duck
    goose swan pigeon seagull chicken rooster owl eagle parrot fish butterfly squirrel deer rabbit mouse
    monkey lion tiger camel donkey
    car truck bus van taxi motorcycle bicycle bike scooter train tram boat ship sailboat canoe kayak
    airplane plane jet helicopter tractor trailer wagon cart ambulance suv jeep limo
    hydrant sign signpost pole lamppost streetlight bench umbrella parasol fence gate
    wall door window roof chimney balcony stair staircase building house tower bridge tunnel
    church castle barn shed tent pillar column arch statue fountain clock flag banner billboard
    road street sidewalk crosswalk curb driveway path trail railway platform station
    tree bush shrub flower plant grass leaf branch trunk log rock stone boulder sand beach wave ocean sea
    lake river pond waterfall mountain hill cloud sun moon snow puddle field forest garden lawn
    backpack bag handbag purse suitcase luggage wallet tie belt scarf glove mitten hat cap helmet hood
    shirt t-shirt blouse sweater jacket coat vest dress skirt pants jeans shorts sock shoe boot sneaker
    sandal uniform apron glasses sunglasses goggles bracelet necklace earring mask
    frisbee ski snowboard ball kite bat racket skateboard surfboard paddle net
    bottle glass cup mug wine fork knife spoon bowl plate dish tray napkin pot pan kettle teapot jar
    lid straw
    banana apple lemon grape strawberry pear peach pineapple watermelon tomato potato
    carrot broccoli onion pepper lettuce cucumber mushroom corn sandwich burger hotdog pizza donut
    doughnut cake pie bread bun toast cookie muffin croissant egg cheese meat sausage bacon
    salad soup rice noodle pasta fries candy
    chair sofa couch stool armchair bed pillow blanket sheet mattress table desk counter shelf bookshelf
    cabinet drawer dresser wardrobe mirror curtain rug carpet mat lamp chandelier vase
    candle poster tv television monitor screen laptop computer keyboard
    phone cellphone telephone microwave oven stove refrigerator fridge sink faucet toilet bathtub
    shower towel toothbrush soap dishwasher toaster blender book notebook newspaper magazine paper pen
    pencil scissors teddy toy doll box basket bucket barrel crate bin trashcan hose ladder
    broom hammer tripod guitar piano drum violin microphone headphones
    """
)
# Words that name the same kind of thing; a mention is grounded if any word of its group is annotated.
_SYNONYM_GROUPS = (
    "person man woman boy girl child kid baby people player skier surfer skateboarder rider driver passenger "
    "pedestrian crowd lady guy adult teenager toddler cyclist biker officer chef",
    "dog puppy",
    "cat kitten",
    "horse pony",
    "cow calf",
    "sheep lamb",
    "bird duck goose swan pigeon seagull owl eagle parrot",
    "car taxi suv jeep limo",
    "airplane plane jet",
    "bicycle bike",
    "motorcycle bike scooter",
    "boat ship sailboat canoe kayak",
    "sofa couch armchair",
    "tv television monitor screen",
    "laptop computer",
    "phone cellphone telephone",
    "refrigerator fridge",
    "cup mug glass",
    "plate dish",
    "hat cap helmet hood",
    "shirt t-shirt blouse sweater",
    "jacket coat vest",
    "pants jeans shorts",
    "shoe boot sneaker sandal",
    "glasses sunglasses goggles",
    "road street",
    "sidewalk path crosswalk curb",
    "rock stone boulder",
    "ocean sea wave water",
    "grass lawn field",
    "tree bush shrub plant",
    "hill mountain",
    "light lamp streetlight lamppost",
    "sign signpost billboard poster banner",
    "donut doughnut",
    "bag handbag purse backpack",
    "suitcase luggage",
    "poster banner",
    "trashcan bin",
    "building house",
    "table desk counter",
    "ski skis",
    "burger sandwich",
)
_GROUP_OF: dict[str, set[str]] = {}
for _group in _SYNONYM_GROUPS:
    _words = set(_group.split())
    for _word in _words:
        _GROUP_OF.setdefault(_word, set()).update(_words)

_IRREGULAR = {
    "people": "person", "men": "man", "women": "woman", "children": "child", "kids": "kid", "feet": "foot",
    "teeth": "tooth", "mice": "mouse", "geese": "goose", "knives": "knife", "leaves": "leaf", "shelves": "shelf",
    "wolves": "wolf", "loaves": "loaf", "calves": "calf", "scarves": "scarf", "skis": "ski", "glasses": "glasses",
    "sunglasses": "sunglasses", "goggles": "goggles", "pants": "pants", "jeans": "jeans", "shorts": "shorts",
    "headphones": "headphones", "fries": "fries", "bus": "bus", "buses": "bus", "grass": "grass", "glass": "glass",
    "dresses": "dress", "boxes": "box", "benches": "bench", "sandwiches": "sandwich", "dishes": "dish",
    "brushes": "brush", "watches": "watch", "tomatoes": "tomato", "potatoes": "potato", "lunches": "lunch",
}  # fmt: skip


def singular(word: str) -> str:
    """A rough English singular, enough to compare mentions with annotation names."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def strip_references(text: str) -> str:
    """Text with `<st>name<ed> [..]` references reduced to their names (what a reader would see)."""
    return _REFERENCE.sub(lambda m: m.group("name"), text)


def text_problem(text: str, grounded: bool = False) -> tuple[str, str] | None:
    """Refusal, error text or a context leak in one text, as (reason, matched snippet)."""
    for reason, pattern in (("error_text", _ERROR_TEXT), ("refusal", _REFUSAL)):
        if match := pattern.search(text):
            return reason, match.group(0)
    plain = strip_references(text) if grounded else text
    if match := _LEAK.search(plain):
        return "leak", match.group(0)
    if match := _BARE_BOX.search(plain):
        return "leak", match.group(0)
    return None


def raw_text_problem(text: str) -> tuple[str, str] | None:
    """Whole-response refusals and error bodies, checked when the text does not parse into the task."""
    stripped = text.strip()
    if match := _ERROR_TEXT.search(stripped):
        return "error_text", match.group(0)
    if match := _REFUSAL.search(stripped[:400]):
        return "refusal", match.group(0)
    return None


@dataclass
class Grounding:
    """What the annotations support for one image: known nouns and per-noun object counts."""

    known: set[str]
    counts: Counter
    stated_counts: dict[str, set[int]]  # counts written in captions and region phrases

    @classmethod
    def from_image(cls, image: ImageAnnotations) -> Grounding:
        known: set[str] = set()
        texts = [*image.captions, *(r.phrase for r in image.regions)]
        names: list[tuple[str, tuple[float, float, float, float]]] = []
        for obj in image.objects:
            for name in (obj.name, *obj.names):
                known.update(singular(w) for w in _words(name))
            for synset in obj.synsets:
                known.update(singular(w) for w in _words(synset.split(".")[0].replace("_", " ")))
            label = clean_label(obj.name)
            if label:
                names.append((label, obj.box.normalized(image.width or 1, image.height or 1)))
        for rel in image.relationships:
            known.update(singular(w) for w in _words(f"{rel.subject_name} {rel.object_name}"))
        for inst in image.instances:
            known.update(singular(w) for w in _words(inst.category))
        for text in texts:
            known.update(singular(w) for w in _words(text))
        expanded = set(known)
        for word in known:
            expanded.update(_GROUP_OF.get(word, ()))
        counts: Counter = Counter()
        kept: dict[str, list[tuple[float, float, float, float]]] = {}
        for label, box in names:  # de-duplicated count: same name, IoU ≥ 0.9 counts once
            if any(iou_xyxy(box, other) >= DEDUP_IOU for other in kept.get(label, ())):
                continue
            kept.setdefault(label, []).append(box)
            head = singular(label.split()[-1])
            counts[head] += 1
            if head != "person" and head in _GROUP_OF["person"]:
                counts["person"] += 1  # "two people" counts the men and women
        stated: dict[str, set[int]] = {}
        for text in texts:
            for noun, number in count_mentions(text):
                stated.setdefault(noun, set()).add(number)
        return cls(expanded, counts, stated)

    def flags(self, text: str) -> list[str]:
        """`hallucinated_count:<noun>` and `unknown_object:<noun>` flags for one text, sorted, unique."""
        text = strip_references(text)
        flags = set()
        for noun, number in count_mentions(text):
            annotated = self.counts.get(noun, 0)
            if annotated and number != annotated and number not in self.stated_counts.get(noun, ()):
                flags.add(f"hallucinated_count:{noun}")
        words = _words(text)
        for index, word in enumerate(words):
            noun = singular(word)
            if (
                noun not in VISUAL_NOUNS
                or noun in self.known
                or _NEGATIONS & set(words[max(0, index - 3) : index])
            ):
                continue
            if index + 1 < len(words) and singular(words[index + 1]) in VISUAL_NOUNS:
                continue  # a modifier: "glass door", "tennis ball", "teddy bear"
            if index and words[index - 1] in _PRONOUNS:
                continue  # a verb: "she leaves", "it signs"
            flags.add(f"unknown_object:{noun}")
        return sorted(flags)


def count_mentions(text: str) -> list[tuple[str, int]]:
    """(singular noun, number) for phrases like "two brown dogs" / "3 people" / "one cat"."""
    words = _words(strip_references(text))
    found = []
    for index, word in enumerate(words):
        number = NUMBER_WORDS.get(word) or (int(word) if word.isdigit() and 0 < int(word) <= 20 else None)
        if number is None:
            continue
        for candidate in words[index + 1 : index + 4]:  # the noun, after at most two adjectives
            if candidate in _FUNCTION_WORDS or candidate in NUMBER_WORDS or candidate[0].isdigit():
                break
            if number == 1 and candidate in VISUAL_NOUNS:
                found.append((candidate, 1))
                break
            if number > 1 and singular(candidate) != candidate:
                found.append((singular(candidate), number))
                break
    return found


@dataclass
class CheckedItem:
    item: QAItem
    reason: str | None = None  # None: accepted
    detail: str = ""
    boxes: list[list[float]] = field(default_factory=list)
    box_refs: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    def raw(self) -> str:
        return json.dumps(
            {"topic": self.item.topic, "question": self.item.question, "answer": self.item.answer},
            ensure_ascii=False,
        )


@dataclass
class Verdict:
    ok: bool
    reason: str | None  # output-level reason when not ok
    detail: str
    accepted: list[CheckedItem]
    rejected: list[CheckedItem]  # item-level rejections of an accepted output (quarantined one by one)


def check_references(
    text: str, context: TaskContext
) -> tuple[str | None, str, list[tuple[list[float], str]]]:
    """Resolve `<st>name<ed> [x1, y1, x2, y2]` references to context boxes (IoU ≥ 0.5, same name preferred)."""
    resolved: list[tuple[list[float], str]] = []
    if text.count("<st>") != len(_REFERENCE.findall(text)):
        return "bad_box", "a <st>…<ed> reference without a [x1, y1, x2, y2] box", resolved
    for match in _REFERENCE.finditer(text):
        try:
            box = [float(v) for v in match.group("numbers").split(",")]
        except ValueError:
            return "bad_box", match.group(0), resolved
        if len(box) != 4 or not (0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1):
            return "bad_box", match.group(0), resolved
        overlap = iou_matrix([box], [g.box for g in context.boxes])[0] if context.boxes else np.zeros(0)
        candidates = [i for i in range(len(overlap)) if overlap[i] >= MATCH_IOU]
        if not candidates:
            return "unmatched_box", match.group(0), resolved
        name = clean_label(match.group("name"))
        best = context.boxes[max(candidates, key=lambda i: (context.boxes[i].name == name, overlap[i]))]
        resolved.append((box, best.ref))
    return None, "", resolved


def _normalise_question(text: str) -> str:
    return " ".join(_words(text))


def _check_item(
    spec: TaskSpec, item: QAItem, context: TaskContext, grounding: Grounding, seen: set[str]
) -> CheckedItem:
    checked = CheckedItem(item)
    texts = (
        [item.topic, item.answer] if spec.question_chars is None else [item.topic, item.question, item.answer]
    )
    for text in texts:
        if problem := text_problem(text, spec.grounded):
            checked.reason, checked.detail = problem
            return checked
    if spec.grounded:
        for part, text in (("question", item.question), ("answer", item.answer)):
            reason, detail, resolved = check_references(text, context)
            if reason:
                checked.reason, checked.detail = reason, f"{part}: {detail}"
                return checked
            if not resolved:
                checked.reason, checked.detail = "missing_reference", f"no <st>name<ed> [box] in the {part}"
                return checked
            for box, ref in resolved:
                if box not in checked.boxes:
                    checked.boxes.append(box)
                    checked.box_refs.append(ref)
    bounds = [("answer", item.answer, spec.answer_chars)]
    if spec.question_chars is not None:
        bounds.insert(0, ("question", item.question, spec.question_chars))
    for part, text, (low, high) in bounds:
        length = len(strip_references(text))
        if length < low or length > high:
            checked.reason = "too_short" if length < low else "too_long"
            checked.detail = f"{part} has {length} characters, allowed {low}–{high}"
            return checked
    if spec.question_chars is not None:
        key = _normalise_question(item.question)
        if key in seen:
            checked.reason, checked.detail = "duplicate_question", item.question[:200]
            return checked
        seen.add(key)
    checked.flags = grounding.flags(item.answer)  # questions may ask about absent things; answers assert
    if len(checked.flags) > spec.max_flags_per_qa:
        checked.reason, checked.detail = "hallucination", ", ".join(checked.flags)
    return checked


def validate_output(
    spec: TaskSpec, parsed: ParseResult, context: TaskContext, grounding: Grounding
) -> Verdict:
    """Apply the spec's count policy and every item validator to one parsed output."""
    if not parsed.ok:
        return Verdict(False, "parse_error", f"{parsed.error}: {parsed.detail}".rstrip(": "), [], [])
    sizes = parsed.conversation_sizes
    full = sum(1 for n in sizes.values() if n >= spec.min_turns)
    if full < spec.min_conversations:
        shape = ", ".join(str(n) for n in sizes.values())
        detail = f"got conversations of [{shape}] QA, need {spec.min_conversations}×≥{spec.min_turns} (expected {spec.conversations}×{spec.turns})"
        return Verdict(False, "wrong_count", detail, [], [])
    conv_order = sorted(sizes)[: spec.conversations]
    seen: set[str] = set()
    by_conv: dict[int, list[CheckedItem]] = {c: [] for c in conv_order}
    rejected: list[CheckedItem] = []
    for item in parsed.items:
        if item.conversation_index not in by_conv or item.turn_index >= spec.turns:
            rejected.append(CheckedItem(item, "over_count", f"beyond {spec.conversations}×{spec.turns}"))
            continue
        checked = _check_item(spec, item, context, grounding, seen)
        (rejected if checked.reason else by_conv[item.conversation_index]).append(checked)
    accepted: list[CheckedItem] = []
    for conv in conv_order:
        if len(by_conv[conv]) >= spec.min_turns:
            accepted.extend(by_conv[conv])
        else:
            for checked in by_conv[conv]:
                checked.reason, checked.detail = (
                    "short_conversation",
                    f"conversation {conv} kept < {spec.min_turns} turns",
                )
                rejected.append(checked)
    full = len({c.item.conversation_index for c in accepted})
    if full < spec.min_conversations:
        reasons = Counter(c.reason for c in rejected if c.reason not in ("over_count", "short_conversation"))
        if not reasons:
            return Verdict(False, "wrong_count", f"{len(accepted)} valid QA left", [], [])
        reason = reasons.most_common(1)[0][0]
        example = next(c.detail for c in rejected if c.reason == reason)
        summary = ", ".join(f"{r}×{n}" for r, n in reasons.most_common())
        return Verdict(False, reason, f"{len(accepted)} valid QA left ({summary}); e.g. {example}", [], [])
    return Verdict(True, None, "", accepted, rejected)


def evaluate_output(
    spec: TaskSpec,
    text: str | None,
    context: TaskContext,
    grounding: Grounding,
    finish_reason: str | None = "stop",
) -> tuple[ParseResult | None, Verdict]:
    """One model (or offline) response → parse result and verdict; None when the text was not parsed."""
    if finish_reason == "length":
        return None, Verdict(False, "truncated", "finish_reason length: the output was cut off", [], [])
    if finish_reason == "content_filter":
        return None, Verdict(False, "content_filter", "the endpoint filtered the output", [], [])
    if not text or not text.strip():
        return None, Verdict(False, "empty_output", "no content", [], [])
    parsed = parse_output(text, spec.output_kind)
    if not parsed.ok and (problem := raw_text_problem(text)):
        return parsed, Verdict(False, problem[0], problem[1], [], [])
    return parsed, validate_output(spec, parsed, context, grounding)

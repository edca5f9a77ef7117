"""Model text → task items, tolerant of what real endpoints send back.

Endpoints that honour `response_format` return bare JSON; others wrap it in ``` fences or prose, and some
ignore the schema and write `Question: … Answer: …` text. The parser tries, in order: strict JSON, fenced
JSON, the first balanced `{…}` that decodes, then the plain-text conventions. It never raises: a failure
comes back as a short reason (`empty`, `no_structure`, `invalid_shape`) for the quarantine.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_QUESTION_KEYS = ("question", "q", "query", "human", "user", "prompt")
_ANSWER_KEYS = ("answer", "a", "response", "gpt", "assistant", "reply")
_QA_LIST_KEYS = ("qa", "qas", "questions", "pairs", "items", "turns", "dialogue", "conversation")
_DESCRIPTION_KEYS = ("description", "detailed_description", "detail_description", "text")
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)
_LABEL = re.compile(
    r"^\s*(?:[-*#>\d.)\s]*)?\**\s*(question|answer|q|a|user|human|assistant|gpt|topic)\s*\d*\s*\**\s*[:：]\s*\**\s*(.*)$",
    re.IGNORECASE,
)
_ROLE = {
    "question": "q",
    "q": "q",
    "user": "q",
    "human": "q",
    "answer": "a",
    "a": "a",
    "assistant": "a",
    "gpt": "a",
    "topic": "t",
}
_SEPARATOR = re.compile(r"^\s*(?:={3,}|-{3,}|\*{3,})\s*$")


@dataclass(frozen=True)
class QAItem:
    conversation_index: int
    turn_index: int
    topic: str
    question: str
    answer: str


@dataclass(frozen=True)
class ParseResult:
    items: tuple[QAItem, ...]
    method: str  # "json" | "fenced" | "embedded" | "plain_text" | "" (failed)
    error: str | None = None  # None when parsed
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def conversation_sizes(self) -> dict[int, int]:
        sizes: dict[int, int] = {}
        for item in self.items:
            sizes[item.conversation_index] = sizes.get(item.conversation_index, 0) + 1
        return sizes


def _text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _pair(entry: object) -> tuple[str, str] | None:
    if not isinstance(entry, dict):
        return None
    lowered = {str(k).lower(): v for k, v in entry.items()}
    question = next((_text(lowered[k]) for k in _QUESTION_KEYS if k in lowered), "")
    answer = next((_text(lowered[k]) for k in _ANSWER_KEYS if k in lowered), "")
    return (question, answer) if question and answer else None


def _pairs(entries: object) -> list[tuple[str, str]] | None:
    """QA pairs from a list of {question, answer} objects, or from ShareGPT-style alternating turns."""
    if not isinstance(entries, list):
        return None
    pairs = [_pair(e) for e in entries]
    if all(p is not None for p in pairs):
        return pairs  # type: ignore[return-value]
    turns = [e for e in entries if isinstance(e, dict) and {"from", "value"} <= e.keys()]
    if len(turns) == len(entries) and len(turns) % 2 == 0:
        return [(_text(q["value"]), _text(a["value"])) for q, a in zip(turns[::2], turns[1::2], strict=True)]
    return None


def _qa_list(obj: object) -> list[tuple[str, str]] | None:
    if isinstance(obj, list):
        return _pairs(obj)
    if isinstance(obj, dict):
        for key in _QA_LIST_KEYS:
            if key in obj and (pairs := _pairs(obj[key])) is not None:
                return pairs
    return None


def _conversations(obj: object) -> list[tuple[str, list[tuple[str, str]]]] | None:
    convs = obj.get("conversations") if isinstance(obj, dict) else obj
    if isinstance(convs, list) and all(isinstance(c, dict | list) for c in convs):
        found = []
        for conv in convs:
            pairs = _qa_list(conv)
            if pairs is None:
                break
            found.append((_text(conv.get("topic")) if isinstance(conv, dict) else "", pairs))
        else:
            return found
    pairs = _qa_list(obj)  # a single flat conversation
    if pairs is not None:
        return [(_text(obj.get("topic")) if isinstance(obj, dict) else "", pairs)]
    return None


def _items_from_json(obj: object, kind: str) -> tuple[QAItem, ...] | None:
    if kind == "description":
        if isinstance(obj, str) and obj.strip():
            return (QAItem(0, 0, "", "", obj.strip()),)
        if isinstance(obj, dict) and (key := next((k for k in _DESCRIPTION_KEYS if k in obj), None)):
            return (QAItem(0, 0, "", "", _text(obj[key])),)
        return None
    if kind == "conversations":
        convs = _conversations(obj)
        if convs is None:
            return None
        return tuple(
            QAItem(c, t, topic, q, a)
            for c, (topic, pairs) in enumerate(convs)
            for t, (q, a) in enumerate(pairs)
        )
    pairs = _qa_list(obj)
    if pairs is None and isinstance(obj, dict) and isinstance(obj.get("conversations"), list):
        convs = _conversations(obj)  # a single-list task answered in the conversation shape
        pairs = [p for _, ps in convs or () for p in ps] or None
    return None if pairs is None else tuple(QAItem(0, t, "", q, a) for t, (q, a) in enumerate(pairs))


def _balanced_objects(text: str):
    """Every balanced {...} span, in order of its opening brace, respecting JSON strings."""
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        depth, in_string, escaped = 0, False, False
        for end in range(start, len(text)):
            ch = text[end]
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    yield text[start : end + 1]
                    break


def _json_candidates(text: str):
    yield "json", text.strip()
    for match in _FENCE.finditer(text):
        yield "fenced", match.group(1).strip()
    for span in _balanced_objects(text):
        yield "embedded", span


def _plain_text(text: str, kind: str) -> tuple[QAItem, ...]:
    """`Question:/Answer:`, `Q:/A:`, `User:/Assistant:` turns; `===` lines separate conversations."""
    items: list[QAItem] = []
    conv, turn, topic = 0, 0, ""
    role, question, answer = "", [], []

    def flush() -> None:
        nonlocal turn
        if question and answer:
            items.append(QAItem(conv, turn, topic, " ".join(question).strip(), " ".join(answer).strip()))
            turn += 1
        question.clear()
        answer.clear()

    for line in text.splitlines():
        if _SEPARATOR.match(line):
            flush()
            if turn:
                conv, turn, topic = conv + 1, 0, ""
            role = ""
            continue
        match = _LABEL.match(line)
        if match:
            label, rest = _ROLE[match.group(1).lower()], match.group(2).strip()
            if label == "t":
                flush()
                if turn:
                    conv, turn = conv + 1, 0
                topic, role = rest.strip("*"), ""
                continue
            if label == "q":
                flush()
            role = label
            (question if label == "q" else answer).append(rest)
        elif role and line.strip():
            (question if role == "q" else answer).append(line.strip())
    flush()
    if kind != "conversations":
        items = [QAItem(0, i, "", it.question, it.answer) for i, it in enumerate(items)]
    return tuple(items)


def parse_output(text: str | None, kind: str) -> ParseResult:
    """Parse a model's text for an output kind ("conversations", "qa" or "description")."""
    if not text or not text.strip():
        return ParseResult((), "", "empty")
    decoded_any = False
    for method, candidate in _json_candidates(text):
        try:
            obj = json.loads(candidate)
        except ValueError:
            continue
        decoded_any = True
        items = _items_from_json(obj, kind)
        if items is not None:  # the task's shape, possibly with too few items (the count policy decides)
            return ParseResult(items, method)
    if decoded_any:
        return ParseResult((), "", "invalid_shape", "JSON found but not in the task's shape")
    if kind == "description":
        if "{" in text:  # a JSON attempt that does not decode (e.g. cut off) is not a description
            return ParseResult((), "", "no_structure", "undecodable JSON")
        return ParseResult((QAItem(0, 0, "", "", text.strip()),), "plain_text")
    items = _plain_text(text, kind)
    if items:
        return ParseResult(items, "plain_text")
    return ParseResult((), "", "no_structure", "no JSON and no Question/Answer turns")

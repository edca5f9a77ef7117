"""Generic per-batch generation for one task spec, plus the logic of the task asset checks.

Per image: context → (skip if thin) → request → parse → validate → re-ask with the validation problem
appended (a new request, hence a new cache key) at most `max_attempts - 1` times → accepted records, or a
quarantine row with the raw text and the reason. Images run concurrently without a barrier; the engine
bounds concurrency and rate. Without an engine the offline generator's JSON goes through the very same
parse/validate path, so both produce records of one shape and one quality bar.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from svit_assets.annotations import ImageAnnotations
from svit_assets.llm import ChatRequest, LLMEngine, LLMFailure
from svit_assets.tasks.context import TaskContext, build_context
from svit_assets.tasks.offline import OFFLINE_GENERATOR_VERSION, generate_offline
from svit_assets.tasks.prompts import (
    PromptPack,
    build_messages,
    load_prompt_pack,
    pick_instruction,
    reask_messages,
    response_format,
)
from svit_assets.tasks.specs import TaskSpec
from svit_assets.tasks.validation import SKIP_REASONS, CheckedItem, Grounding, evaluate_output, text_problem

TASK_RECORDS_SCHEMA = pa.schema(
    [
        pa.field("image_id", pa.int64(), nullable=False),
        pa.field("batch", pa.string()),
        pa.field("task", pa.string()),
        pa.field("conversation_index", pa.int32()),
        pa.field("turn_index", pa.int32()),
        pa.field("topic", pa.string()),
        pa.field("question", pa.string()),
        pa.field("answer", pa.string()),
        pa.field("boxes", pa.list_(pa.list_(pa.float64()))),
        pa.field("box_refs", pa.list_(pa.string())),
        pa.field("flags", pa.list_(pa.string())),
        pa.field("generator", pa.string()),
        pa.field("prompt_version", pa.string()),
        pa.field("request_key", pa.string()),
        pa.field("prompt_tokens", pa.int64()),
        pa.field("completion_tokens", pa.int64()),
        pa.field("cost_usd", pa.float64()),
    ]
)

TASK_QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("image_id", pa.int64(), nullable=False),
        pa.field("batch", pa.string()),
        pa.field("task", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("raw_text", pa.string()),
        pa.field("request_key", pa.string()),
        pa.field("generator", pa.string()),
        pa.field("attempt", pa.int32()),
    ]
)

OFFLINE = "offline"
# What the re-ask tells the model about its rejected answer (the validator's detail is appended).
_REASK_HINTS = {
    "parse_error": "it was not a JSON object in the required shape",
    "empty_output": "it was empty",
    "truncated": "it was cut off before the end; keep every answer shorter",
    "content_filter": "it was blocked by the content filter; describe only what is plainly visible",
    "wrong_count": "it did not contain the required number of items",
    "refusal": "it refused or apologised; answer as the visual assistant looking at the photograph",
    "error_text": "it contained an error message instead of the answer",
    "leak": "it mentioned the captions, descriptions, boxes or coordinates; talk only about the photograph",
    "hallucination": "it mentioned objects or counts that are not in the photograph",
    "duplicate_question": "it repeated questions; every question must be different",
    "too_short": "some answers were too short",
    "too_long": "some answers were too long",
    "bad_box": "a <st>name<ed> reference had no valid [x1, y1, x2, y2] box inside 0-1",
    "unmatched_box": "a referenced box was not one of the given positions; copy positions exactly",
    "missing_reference": "every question and every answer needs a <st>name<ed> [x1, y1, x2, y2] reference",
}


@dataclass
class TaskBatchResult:
    records: pa.Table
    quarantine: pa.Table
    metrics: dict


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    severity: str  # "ERROR" (blocking) | "WARN"
    metadata: dict


@dataclass
class _ImageRun:
    """What happened to one image; the batch metrics are sums over these."""

    records: list[dict] = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)
    skip_reason: str | None = None
    responses: int = 0  # outputs evaluated (LLM answers or offline outputs)
    parsed: int = 0
    attempts: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    accepted: bool = False
    short: bool = False
    context: TaskContext | None = None
    failure: LLMFailure | None = None  # the engine gave up on this image


@dataclass(frozen=True)
class _Job:
    spec: TaskSpec
    pack: PromptPack
    batch: str
    seed: int
    generator: str
    prompt_version: str

    def request(self, messages: tuple[dict, ...], image_id: int, attempt: int) -> ChatRequest:
        return ChatRequest(
            messages=messages,
            response_format=response_format(self.pack),
            temperature=self.spec.temperature,
            top_p=self.spec.top_p,
            max_tokens=self.spec.max_tokens,
            seed=self.seed,
            tag=f"{self.spec.name}:{image_id}:{attempt}",
        )

    def quarantine_row(
        self, image_id: int, reason: str, detail: str, raw: str, key: str, attempt: int
    ) -> dict:
        return {
            "image_id": image_id,
            "batch": self.batch,
            "task": self.spec.name,
            "reason": reason,
            "detail": detail[:1000],
            "raw_text": raw,
            "request_key": key,
            "generator": self.generator,
            "attempt": attempt,
        }

    def skip(self, image: ImageAnnotations, context: TaskContext) -> _ImageRun:
        row = self.quarantine_row(image.image_id, context.skip_reason or "", context.skip_detail, "", "", 0)
        return _ImageRun(quarantine=[row], skip_reason=context.skip_reason, context=context)

    def accept(
        self,
        run: _ImageRun,
        image: ImageAnnotations,
        items: list[CheckedItem],
        key: str,
        usage: tuple[int, int, float],
    ) -> None:
        """Records for an accepted output; the request's tokens and cost are split evenly over them."""
        count = len(items)
        instruction = (
            pick_instruction(self.pack, image.image_id, self.seed) if self.spec.question_chars is None else ""
        )
        prompt_shares = _split(usage[0], count)
        completion_shares = _split(usage[1], count)
        for index, checked in enumerate(items):
            item = checked.item
            run.records.append(
                {
                    "image_id": image.image_id,
                    "batch": self.batch,
                    "task": self.spec.name,
                    "conversation_index": item.conversation_index,
                    "turn_index": item.turn_index,
                    "topic": item.topic,
                    "question": instruction or item.question,
                    "answer": item.answer,
                    "boxes": checked.boxes,
                    "box_refs": checked.box_refs,
                    "flags": checked.flags,
                    "generator": self.generator,
                    "prompt_version": self.prompt_version,
                    "request_key": key,
                    "prompt_tokens": prompt_shares[index],
                    "completion_tokens": completion_shares[index],
                    "cost_usd": usage[2] / count,
                }
            )
        run.accepted = True
        run.short = count < self.spec.expected_qa


def _split(total: int, parts: int) -> list[int]:
    """Integers summing to `total`, as even as possible (the first ones take the remainder)."""
    base, extra = divmod(int(total), parts)
    return [base + (i < extra) for i in range(parts)]


def _judge(
    job: _Job,
    run: _ImageRun,
    image: ImageAnnotations,
    grounding: Grounding,
    text: str | None,
    finish_reason: str,
    key: str,
    attempt: int,
    usage: tuple[int, int, float],
):
    """Evaluate one output; when it is accepted, add its records and its rejected items to the run."""
    parsed, verdict = evaluate_output(job.spec, text, run.context, grounding, finish_reason)
    run.responses += 1
    run.parsed += bool(parsed and parsed.ok)
    if verdict.ok:
        job.accept(run, image, verdict.accepted, key, usage)
        for checked in verdict.rejected:
            run.quarantine.append(
                job.quarantine_row(
                    image.image_id, checked.reason, checked.detail, checked.raw(), key, attempt
                )
            )
    return verdict


async def _run_image(
    job: _Job, engine: LLMEngine, image: ImageAnnotations, context: TaskContext
) -> _ImageRun:
    run = _ImageRun(context=context)
    grounding = Grounding.from_image(image)
    messages = build_messages(job.pack, context.text)
    history: list[str] = []
    for attempt in range(job.spec.max_attempts):
        request = job.request(messages, image.image_id, attempt)
        run.attempts += 1
        try:
            result = await engine.complete(request)
        except LLMFailure as exc:
            run.failure = exc
            run.quarantine.append(job.quarantine_row(image.image_id, "llm_failed", str(exc), "", "", attempt))
            return run
        run.cached += bool(result.cached)
        run.prompt_tokens += result.prompt_tokens
        run.completion_tokens += result.completion_tokens
        run.cost_usd += result.cost_usd
        if result.status == "failed":
            detail = result.error or "the engine gave up on this request"
            run.quarantine.append(
                job.quarantine_row(image.image_id, "llm_failed", detail, "", result.key, attempt)
            )
            return run
        usage = (result.prompt_tokens, result.completion_tokens, result.cost_usd)
        finish = result.status if result.status in ("length", "content_filter") else "stop"
        verdict = _judge(job, run, image, grounding, result.content, finish, result.key, attempt, usage)
        if verdict.ok:
            return run
        history.append(verdict.reason)
        if attempt + 1 == job.spec.max_attempts:
            detail = f"{verdict.detail} (attempts: {', '.join(history)})"
            raw = result.content or ""
            run.quarantine.append(
                job.quarantine_row(image.image_id, verdict.reason, detail, raw, result.key, attempt)
            )
            return run
        hint = f"{_REASK_HINTS.get(verdict.reason, verdict.reason)} ({verdict.detail[:300]})"
        echo = "" if verdict.reason in ("truncated", "content_filter") else (result.content or "")
        messages = reask_messages(messages, echo, hint)
    return run


async def _gather_all(coroutines: list) -> list:
    """Run all; on the first exception (e.g. BudgetExceeded) cancel the rest and re-raise it unwrapped."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _job(spec: TaskSpec, batch_key: str, seed: int, generator: str, version: str | None = None) -> _Job:
    pack = load_prompt_pack(spec.name)
    return _Job(spec, pack, batch_key, seed, generator, version or pack.version)


async def agenerate_task_batch(
    spec: TaskSpec, images: list[ImageAnnotations], *, engine: LLMEngine, batch_key: str, seed: int = 0
) -> TaskBatchResult:
    """The engine path for callers inside an event loop, with the engine already open (`async with engine:`)."""
    job = _job(spec, batch_key, seed, engine.settings.model)
    contexts = [(image, build_context(image, spec)) for image in images]
    sendable = [(image, context) for image, context in contexts if context.skip_reason is None]
    first_round = [job.request(build_messages(job.pack, c.text), image.image_id, 0) for image, c in sendable]
    engine.ensure_budget(first_round, batch=engine.settings.batch_mode)
    if engine.settings.batch_mode:
        # Half price: the Batch API answers land in the cache, where the per-image flow below finds them;
        # only re-asks (a few percent) go out as regular requests.
        await engine.complete_batch(first_round)
    done = await _gather_all([_run_image(job, engine, image, c) for image, c in sendable])
    if done and all(run.failure is not None for run in done):
        raise done[0].failure  # nothing got through: a dead endpoint fails the run instead of writing nothing
    sent = iter(done)
    runs = [job.skip(image, c) if c.skip_reason else next(sent) for image, c in contexts]
    return _result(job, runs, engine.rollup())


def generate_task_batch(
    spec: TaskSpec,
    images: list[ImageAnnotations],
    *,
    engine: LLMEngine | None,
    batch_key: str,
    seed: int = 0,
) -> TaskBatchResult:
    """Generate one task for one image batch: with the engine when given, else with the offline generator.

    The engine is opened and closed here (`async with engine:` in a fresh event loop), so pass an engine
    that is not open yet.

    `BudgetExceeded` propagates (checked on the first-round requests before anything is sent, and by the
    engine while sending). An `LLMFailure` for one image quarantines it as `llm_failed`; when every sent
    image failed that way the endpoint is down, and the failure propagates so no empty partition is written.
    """
    if engine is not None:

        async def run() -> TaskBatchResult:
            async with engine:
                return await agenerate_task_batch(spec, images, engine=engine, batch_key=batch_key, seed=seed)

        return asyncio.run(run())
    job = _job(spec, batch_key, seed, OFFLINE, OFFLINE_GENERATOR_VERSION)
    runs = []
    for image in images:
        context = build_context(image, spec)
        if context.skip_reason:
            runs.append(job.skip(image, context))
            continue
        run = _ImageRun(context=context, attempts=1)
        key = f"{OFFLINE}:{OFFLINE_GENERATOR_VERSION}:{spec.name}:{image.image_id}:{seed}"
        text = json.dumps(generate_offline(spec.name, image, seed=seed), ensure_ascii=False)
        verdict = _judge(job, run, image, Grounding.from_image(image), text, "stop", key, 0, (0, 0, 0.0))
        if not verdict.ok:
            run.quarantine.append(
                job.quarantine_row(image.image_id, verdict.reason, verdict.detail, text, key, 0)
            )
        runs.append(run)
    return _result(job, runs, None)


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 6) if denominator else 0.0


def _result(job: _Job, runs: list[_ImageRun], rollup: dict | None) -> TaskBatchResult:
    records = [row for run in runs for row in run.records]
    quarantine = [row for run in runs for row in run.quarantine]
    sent = [run for run in runs if run.skip_reason is None]
    accepted = [run for run in sent if run.accepted]
    qa = len(records)
    tokens = sum(run.prompt_tokens + run.completion_tokens for run in sent)
    cost = sum(run.cost_usd for run in sent)
    responses = sum(run.responses for run in sent)
    attempts = sum(run.attempts for run in sent)
    cached = sum(run.cached for run in sent)
    metrics: dict = {
        "task": job.spec.name,
        "batch": job.batch,
        "generator": job.generator,
        "prompt_version": job.prompt_version,
        "images": len(runs),
        "images_sent": len(sent),
        "images_skipped": len(runs) - len(sent),
        "skipped_by_reason": dict(Counter(run.skip_reason for run in runs if run.skip_reason)),
        "images_accepted": len(accepted),
        "images_quarantined": len(sent) - len(accepted),
        "qa_accepted": qa,
        "qa_per_image": _ratio(qa, len(accepted)),
        "qa_flagged": sum(bool(row["flags"]) for row in records),
        "short_outputs": sum(run.short for run in accepted),
        "quarantined": len(quarantine),
        "quarantined_by_reason": dict(Counter(row["reason"] for row in quarantine)),
        "responses": responses,
        "parse_rate": _ratio(sum(run.parsed for run in sent), responses),
        "reasks": attempts - len(sent),
        "fixed_on_reask": sum(run.attempts > 1 for run in accepted),
        "prompt_tokens": sum(run.prompt_tokens for run in sent),
        "completion_tokens": sum(run.completion_tokens for run in sent),
        "cost_usd": round(cost, 6),
        "tokens_per_qa": _ratio(tokens, qa),
        "cost_per_qa": _ratio(cost, qa),
        "requests": attempts,  # logical requests (first asks and re-asks); offline: outputs generated
        "cache_hits": cached,
        "requests_sent": 0,
        "context_tokens_mean": _ratio(sum(run.context.tokens for run in sent), len(sent)),
        "objects_dropped": sum(run.context.objects_dropped for run in sent),
        "regions_dropped": sum(run.context.regions_dropped for run in sent),
    }
    if rollup is not None:  # HTTP requests actually sent, retries included, from the engine
        metrics["requests_sent"] = rollup.get("requests_sent", 0)
        metrics["llm"] = rollup
    return TaskBatchResult(
        records=pa.Table.from_pylist(records, schema=TASK_RECORDS_SCHEMA),
        quarantine=pa.Table.from_pylist(quarantine, schema=TASK_QUARANTINE_SCHEMA),
        metrics=metrics,
    )


_REFERENCE_IN_TEXT = re.compile(r"<st>.*?<ed>\s*\[[^\]]*\]", re.DOTALL)
_REF_FORMAT = re.compile(r"^(?:object|region):\d+$")


def task_check_results(records: pa.Table, quarantine: pa.Table, spec: TaskSpec) -> list[CheckOutcome]:
    """The asset checks (names and blocking as in `spec.checks`) computed from one partition's tables."""
    rows = records.to_pylist()
    qrows = quarantine.to_pylist()
    accepted_images = {row["image_id"] for row in rows}
    sent = accepted_images | {q["image_id"] for q in qrows if q["reason"] not in SKIP_REASONS}
    final_failure: dict[int, str] = {}  # rejected images: the reason of their last attempt
    for q in sorted(qrows, key=lambda q: q["attempt"]):
        if q["image_id"] not in accepted_images and q["reason"] not in SKIP_REASONS:
            final_failure[q["image_id"]] = q["reason"]
    unparsed = sum(
        reason in ("parse_error", "empty_output", "truncated") for reason in final_failure.values()
    )
    parse_rate = 1 - _ratio(unparsed, len(sent)) if sent else 1.0
    quarantine_rate = _ratio(len(final_failure), len(sent))

    per_image: dict[int, Counter] = {}
    for row in rows:
        per_image.setdefault(row["image_id"], Counter())[row["conversation_index"]] += 1
    bad_counts = [
        image_id
        for image_id, convs in per_image.items()
        if not (
            spec.min_conversations <= len(convs) <= spec.conversations
            and all(spec.min_turns <= n <= spec.turns for n in convs.values())
        )
    ]
    sizes = [sum(c.values()) for c in per_image.values()]

    bad_boxes = []
    for row in rows:
        boxes, refs = row["boxes"] or [], row["box_refs"] or []
        valid = len(boxes) == len(refs) and all(
            len(b) == 4 and 0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1 for b in boxes
        )
        valid = valid and all(_REF_FORMAT.match(r) for r in refs)
        if spec.grounded:
            valid = valid and bool(boxes)
            valid = valid and all(_REFERENCE_IN_TEXT.search(row[p]) for p in ("question", "answer"))
        if not valid:
            bad_boxes.append(f"{row['image_id']}/{row['conversation_index']}/{row['turn_index']}")

    offending = []
    for row in rows:
        for part in ("topic", "question", "answer"):
            if problem := text_problem(row[part] or "", spec.grounded):
                offending.append(f"{row['image_id']}/{row['turn_index']} {part}: {problem[0]} '{problem[1]}'")

    return [
        CheckOutcome(
            "parse_rate",
            parse_rate >= spec.min_parse_rate,
            "WARN",
            {
                "parse_rate": round(parse_rate, 4),
                "images_sent": len(sent),
                "unparsed": unparsed,
                "minimum": spec.min_parse_rate,
            },
        ),
        CheckOutcome(
            "quarantine_rate",
            quarantine_rate <= spec.max_quarantine_rate,
            "WARN",
            {
                "quarantine_rate": round(quarantine_rate, 4),
                "images_quarantined": len(final_failure),
                "by_reason": dict(Counter(final_failure.values())),
                "items_rejected": sum(q["image_id"] in accepted_images for q in qrows),
                "maximum": spec.max_quarantine_rate,
            },
        ),
        CheckOutcome(
            "qa_counts",
            not bad_counts,
            "ERROR",
            {
                "images": len(per_image),
                "min": min(sizes, default=0),
                "max": max(sizes, default=0),
                "mean": round(sum(sizes) / len(sizes), 3) if sizes else 0.0,
                "expected": spec.expected_qa,
                "minimum": spec.min_qa,
                "bad_images": bad_counts[:20],
            },
        ),
        CheckOutcome(
            "box_validity",
            not bad_boxes,
            "ERROR",
            {"bad_records": len(bad_boxes), "examples": bad_boxes[:20]},
        ),
        CheckOutcome(
            "no_refusal_or_leak",
            not offending,
            "ERROR",
            {"offending": len(offending), "examples": offending[:20]},
        ),
    ]

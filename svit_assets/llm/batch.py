"""OpenAI Batch API mode: the same answers as `LLMEngine.complete`, at the batch price, through files.

The expensive failure here is losing a batch that was paid for, so every batch id is recorded in SQLite
(with the keys it carries) before polling starts; a later engine on the same home finds the unfinished
batches that hold its requests and polls them instead of submitting again. Whatever comes back — also the
partial output of an expired or failed batch — goes into the same answer cache and ledger (at the batch
price), and only the requests still unanswered are resubmitted, for a bounded number of rounds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import openai
import orjson

from svit_assets.llm.answers import (
    CACHEABLE,
    CONTENT_FILTER_CODES,
    Answer,
    answer_row,
    combined,
    first_choice,
    read_answer,
    retryable_status,
    to_result,
)
from svit_assets.llm.store import Write

if TYPE_CHECKING:
    from svit_assets.llm.engine import LLMEngine
    from svit_assets.llm.types import ChatRequest, ChatResult

CHAT_URL = "/v1/chat/completions"
TERMINAL = {"completed", "failed", "expired", "cancelled"}


class BatchRunner:
    def __init__(self, engine: LLMEngine):
        self.engine = engine
        self.settings = engine.settings
        self.store = engine.store

    async def run(self, requests: list[ChatRequest]) -> list[ChatResult]:
        e, s = self.engine, self.settings
        started = time.perf_counter()
        keys = [e.key_for(r) for r in requests]
        by_key = dict(zip(keys, requests, strict=True))
        todo = dict(by_key)
        answers: dict[str, Answer] = {}
        paid: set[str] = set()  # answered by a batch during this call, not by the cache
        bigger: dict[str, str] = {}  # truncated key -> key of its re-ask with a larger max_tokens
        rounds = 0
        while True:
            self._take_cached(todo, answers)
            self._escalate(answers, bigger, todo, by_key)
            if not todo or rounds >= s.batch_max_rounds:
                break
            rounds += 1
            jobs = self._pending_jobs(todo)
            covered = self._keys_of(jobs)
            fresh = [(k, r) for k, r in todo.items() if k not in covered]
            if fresh:
                e._check_running_budget()
                jobs += await self._submit(fresh)
            for key, answer in (await self._finish(jobs)).items():
                if todo.pop(key, None) is not None:
                    answers[key] = answer
                    paid.add(key)
        elapsed = time.perf_counter() - started
        out: list[ChatResult] = []
        for key in keys:
            answer = answers.get(key) or _missing(rounds)
            final_key, attempts = key, int(key in paid)
            if answer.status == "length" and key in bigger:
                final_key = bigger[key]
                answer = combined(answer, answers.get(final_key) or _missing(rounds))
                attempts += int(final_key in paid)
            if answer.status == "failed":
                e.stats.failures += 1
            out.append(to_result(final_key, answer, attempts, elapsed))
        return out

    # -- bookkeeping ---------------------------------------------------------------------------------

    def _take_cached(self, todo: dict[str, ChatRequest], answers: dict[str, Answer]) -> None:
        for key in list(todo):
            hit = self.store.get_answer(key)
            if hit is not None:
                self.engine._record_hit(todo.pop(key), key, hit)
                answers[key] = hit

    def _escalate(
        self,
        answers: dict[str, Answer],
        bigger: dict[str, str],
        todo: dict[str, ChatRequest],
        by_key: dict[str, ChatRequest],
    ) -> None:
        """Truncated answers get one re-ask with a larger max_tokens, in the next round."""
        for key, answer in list(answers.items()):
            if answer.status != "length" or key in bigger or key not in by_key:
                continue
            larger = self.engine._escalated(by_key[key])
            if larger is None:
                continue
            bigger[key] = self.engine.key_for(larger)
            if bigger[key] not in answers:
                todo[bigger[key]] = larger

    def _pending_jobs(self, todo: dict[str, ChatRequest]) -> list[str]:
        """Unfinished batches recorded earlier (maybe by a crashed engine) that carry any of these keys."""
        found: set[str] = set()
        for chunk in _chunks(list(todo), 500):
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0]
                for row in self.store.query(
                    "SELECT DISTINCT j.batch_id FROM batch_items i JOIN batch_jobs j ON j.batch_id = i.batch_id "
                    f"WHERE j.ingested = 0 AND j.endpoint = ? AND j.model = ? AND i.key IN ({marks})",
                    (self.engine.endpoint, self.settings.model, *chunk),
                )
            )
        return sorted(found)

    def _keys_of(self, batch_ids: list[str]) -> set[str]:
        keys: set[str] = set()
        for chunk in _chunks(batch_ids, 500):
            marks = ",".join("?" * len(chunk))
            keys.update(
                r[0]
                for r in self.store.query(f"SELECT key FROM batch_items WHERE batch_id IN ({marks})", chunk)
            )
        return keys

    # -- submitting --------------------------------------------------------------------------------------

    def split(self, items: list[tuple[str, ChatRequest]]) -> list[list[tuple[str, str, bytes]]]:
        """JSONL lines (key, tag, line) in files of at most batch_max_requests lines and batch_max_bytes."""
        s = self.settings
        files: list[list[tuple[str, str, bytes]]] = [[]]
        size = 0
        for key, request in items:
            line = (
                orjson.dumps(
                    {
                        "custom_id": key,
                        "method": "POST",
                        "url": CHAT_URL,
                        "body": request.body(s.model, s.max_tokens_param),
                    }
                )
                + b"\n"
            )
            if len(line) > s.batch_max_bytes:
                raise ValueError(
                    f"one batch request is {len(line)} bytes, over batch_max_bytes={s.batch_max_bytes}"
                )
            if files[-1] and (len(files[-1]) >= s.batch_max_requests or size + len(line) > s.batch_max_bytes):
                files.append([])
                size = 0
            files[-1].append((key, request.tag, line))
            size += len(line)
        return [f for f in files if f]

    async def _submit(self, items: list[tuple[str, ChatRequest]]) -> list[str]:
        e, s = self.engine, self.settings
        batch_ids = []
        for number, lines in enumerate(self.split(items)):
            data = b"".join(line for _, _, line in lines)
            name = f"svit-{e.run_id}-{number}.jsonl"
            uploaded = await e.client.files.create(file=(name, data, "application/jsonl"), purpose="batch")
            batch = await e.client.batches.create(
                input_file_id=uploaded.id,
                endpoint=CHAT_URL,
                completion_window=s.batch_completion_window,
                metadata={"svit_run_label": e.run_label[:500]},
            )
            self._record(batch.id, uploaded.id, lines)
            e.stats.requests_sent += len(lines)
            e.stats.batch_requests += len(lines)
            batch_ids.append(batch.id)
        return batch_ids

    def _record(self, batch_id: str, file_id: str, lines: list[tuple[str, str, bytes]]) -> None:
        """Durably remembers the batch before anything waits on it, so a crash cannot orphan paid work."""
        e = self.engine

        def insert(conn) -> None:
            conn.execute(
                "INSERT INTO batch_jobs (batch_id, endpoint, model, input_file_id, requests, created, run_label, status) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    batch_id,
                    e.endpoint,
                    self.settings.model,
                    file_id,
                    len(lines),
                    time.time(),
                    e.run_label,
                    "submitted",
                ),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO batch_items (key, batch_id, tag) VALUES (?,?,?)",
                [(key, batch_id, tag) for key, tag, _ in lines],
            )

        self.store.execute_write(insert)

    # -- polling and ingesting ---------------------------------------------------------------------------

    async def _finish(self, batch_ids: list[str]) -> dict[str, Answer]:
        """Polls until every batch is terminal and ingests each: the final outcome by key (transient
        failures — expired, 5xx, 429 — are left out, so those keys go into the next round)."""
        results: dict[str, Answer] = {}
        waiting = list(batch_ids)
        while waiting:
            still = []
            for batch_id in waiting:
                try:
                    batch = await self.engine.client.batches.retrieve(batch_id)
                except openai.NotFoundError:
                    self._abandon(batch_id)  # the provider forgot it: its keys are resubmitted
                    continue
                except (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError):
                    still.append(batch_id)  # transient: poll again
                    continue
                if batch.status in TERMINAL:
                    results.update(await self._ingest(batch))
                else:
                    still.append(batch_id)
            waiting = still
            if waiting:
                await asyncio.sleep(self.settings.batch_poll_interval_s)
        return results

    def _abandon(self, batch_id: str) -> None:
        self.store.execute_write(
            lambda c: c.execute(
                "UPDATE batch_jobs SET ingested = 1, status = 'lost' WHERE batch_id = ?", (batch_id,)
            )
        )

    async def _ingest(self, batch) -> dict[str, Answer]:
        e, s = self.engine, self.settings
        tags = dict(self.store.query("SELECT key, tag FROM batch_items WHERE batch_id = ?", (batch.id,)))
        lines: list[bytes] = []
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                lines.extend((await e.client.files.content(file_id)).content.splitlines())
        finished = (
            batch.completed_at or batch.failed_at or batch.expired_at or batch.cancelled_at or time.time()
        )
        latency = max(0.0, float(finished) - float(batch.created_at))
        results: dict[str, Answer] = {}
        write = Write()
        for raw in lines:
            if not raw.strip():
                continue
            record = orjson.loads(raw)
            key = record.get("custom_id")
            if key not in tags:
                continue  # not a request of ours
            response = record.get("response") or {}
            status_code = response.get("status_code")
            body = response.get("body") if isinstance(response.get("body"), dict) else {}
            final: Answer | None
            if status_code == 200 and first_choice(body):
                answer = final = read_answer(body, s.prices, s.model, lambda: 0, s.batch_discount)
                e.stats.prompt_tokens += answer.prompt_tokens
                e.stats.completion_tokens += answer.completion_tokens
                e.stats.cost_usd += answer.cost_usd
                if answer.status in CACHEABLE:
                    write.answers.append(answer_row(key, answer, s.model, batch=True))
            else:
                answer = self._line_failure(status_code, body, record.get("error"))
                final = None if retryable_status(status_code) else answer
            if final is not None:
                results[key] = final
            write.ledger.append(
                e._ledger_row(
                    tags[key],
                    key,
                    answer.status,
                    status_code,
                    answer.prompt_tokens,
                    answer.completion_tokens,
                    answer.cost_usd,
                    latency,
                    1,
                    batch=True,
                    error=answer.error,
                )
            )
        write.statements.append(
            ("UPDATE batch_jobs SET ingested = 1, status = ? WHERE batch_id = ?", (batch.status, batch.id))
        )
        await self.store.commit(write)
        return results

    def _line_failure(self, status_code: int | None, body: dict, error: dict | None) -> Answer:
        detail = body.get("error") if isinstance(body.get("error"), dict) else (error or {})
        code = str(detail.get("code") or "")
        status = "content_filter" if code in CONTENT_FILTER_CODES else "failed"
        message = self.engine._scrub(
            f"batch line HTTP {status_code} {code}: {str(detail.get('message', ''))[:300]}"
        )
        return Answer(status, None, None, 0, 0, 0.0, error=message)


def _missing(rounds: int) -> Answer:
    return Answer("failed", None, None, 0, 0, 0.0, error=f"no batch result after {rounds} round(s)")


def _chunks(items: Iterable[str], size: int) -> Iterable[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

"""Durable engine state in one SQLite file (WAL): the answer cache, the ledger, engine runs and batch jobs.

Why one file: an answer and the ledger row that paid for it commit in the same transaction, so a crash
can never leave spend without its answer or an answer without its cost. Writes go through one writer
thread per process that commits whatever has queued up in one short `BEGIN IMMEDIATE` transaction
(group commit): at hundreds of answers per second that is a handful of commits instead of hundreds, and
the awaiting callers are released only after their commit — durable before `complete` returns. Reads are
point lookups on the caller's thread. Several processes share the file safely: WAL lets readers run
beside the writer, and writers wait on `busy_timeout` and retry instead of failing with "database is
locked". `synchronous=NORMAL` survives any process crash (kill -9); only an OS crash or power loss can
drop the last commits, which are then simply asked again.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from svit_assets.llm.answers import Answer

T = TypeVar("T")
GATHER_S = 0.01

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, status TEXT NOT NULL, content TEXT, finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL,
    model TEXT NOT NULL, batch INTEGER NOT NULL, created REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, run_label TEXT NOT NULL, key TEXT NOT NULL, tag TEXT NOT NULL,
    model TEXT NOT NULL, status TEXT NOT NULL, http_status INTEGER, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, latency_s REAL NOT NULL, attempt INTEGER NOT NULL,
    cache_hit INTEGER NOT NULL, batch INTEGER NOT NULL, ts REAL NOT NULL, error TEXT
);
CREATE INDEX IF NOT EXISTS ledger_run ON ledger (run_id);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, run_label TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    started REAL NOT NULL, closed REAL, exported TEXT
);
CREATE TABLE IF NOT EXISTS batch_jobs (
    batch_id TEXT PRIMARY KEY, endpoint TEXT NOT NULL, model TEXT NOT NULL, input_file_id TEXT NOT NULL,
    requests INTEGER NOT NULL, created REAL NOT NULL, run_label TEXT NOT NULL, status TEXT NOT NULL,
    ingested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS batch_items (
    key TEXT NOT NULL, batch_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (key, batch_id)
) WITHOUT ROWID;
"""

ANSWER_COLUMNS = (
    "key, status, content, finish_reason, prompt_tokens, completion_tokens, cost_usd, model, batch, created"
)
LEDGER_COLUMNS = (
    "run_id, run_label, key, tag, model, status, http_status, prompt_tokens, completion_tokens, cost_usd, "
    "latency_s, attempt, cache_hit, batch, ts, error"
)
_INSERT_ANSWERS = f"INSERT OR REPLACE INTO answers ({ANSWER_COLUMNS}) VALUES "
_INSERT_LEDGER = f"INSERT INTO ledger ({LEDGER_COLUMNS}) VALUES "


@dataclass
class Write:
    """One unit of durable work; everything queued together commits in one transaction."""

    answers: list[tuple] = field(default_factory=list)
    ledger: list[tuple] = field(default_factory=list)
    statements: list[tuple[str, Sequence[Any]]] = field(default_factory=list)
    done: asyncio.Future | None = None


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def retry_busy(operation: Callable[[], T], attempts: int = 50) -> T:
    """busy_timeout covers most contention; a few paths (e.g. WAL recovery) still raise, so back off and retry."""
    for attempt in range(attempts):
        try:
            return operation()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or attempt == attempts - 1:
                raise
            time.sleep(min(0.5, 0.01 * 2**attempt))
    raise AssertionError("unreachable")


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    conn.execute("PRAGMA busy_timeout=60000")
    retry_busy(lambda: conn.execute("PRAGMA journal_mode=WAL"))
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _insert_rows(conn: sqlite3.Connection, insert: str, rows: list[tuple]) -> None:
    """All rows in as few multi-row INSERTs as SQLite's variable limit allows, not one statement per row:
    each statement releases and re-takes the GIL, and while the event loop is busy every re-take waits
    up to `sys.getswitchinterval()` (5 ms) — with `executemany` a commit of n answers waited 2n times."""
    if not rows:
        return
    width = len(rows[0])
    per_statement = max(1, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    values = "(" + ",".join("?" * width) + ")"
    for first in range(0, len(rows), per_statement):
        chunk = rows[first : first + per_statement]
        conn.execute(insert + ",".join([values] * len(chunk)), [value for row in chunk for value in row])


def _transaction(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = body(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = connect(path)
        self._lock = threading.Lock()  # the caller-side connection may be used from a worker thread too
        self.execute_write(lambda conn: conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;"), raw=True)
        self._queue: queue.SimpleQueue[list[Write] | None] = queue.SimpleQueue()
        self._gathered: list[Write] = []
        self._soon = self._later = False  # a hand-over is scheduled (this iteration / after GATHER_S)
        self._writer: threading.Thread | None = None

    # -- caller-side reads and small synchronous writes --------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return retry_busy(lambda: self._conn.execute(sql, params).fetchall())

    def get_answer(self, key: str) -> Answer | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT status, content, finish_reason, prompt_tokens, completion_tokens, cost_usd "
                "FROM answers WHERE key = ?",
                (key,),
            ).fetchone()
        return Answer(*row) if row else None

    def cached_keys(self, keys: Iterable[str]) -> set[str]:
        found: set[str] = set()
        chunk: list[str] = []
        for key in [*keys, None]:
            if key is not None:
                chunk.append(key)
            if chunk and (key is None or len(chunk) == 500):
                marks = ",".join("?" * len(chunk))
                found.update(
                    r[0] for r in self.query(f"SELECT key FROM answers WHERE key IN ({marks})", chunk)
                )
                chunk = []
        return found

    def spent_usd(self) -> float:
        return float(self.query("SELECT total(cost_usd) FROM ledger")[0][0])

    def execute_write(self, body: Callable[[sqlite3.Connection], T], raw: bool = False) -> T:
        """A short synchronous write transaction (run bookkeeping, batch records) outside the writer queue."""
        with self._lock:
            if raw:
                return retry_busy(lambda: body(self._conn))
            return retry_busy(lambda: _transaction(self._conn, body))

    # -- the writer thread -------------------------------------------------------------------------

    def start(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="llm-store-writer", daemon=True)
            self._writer.start()

    def submit(self, write: Write) -> None:
        """Hands a write to the writer thread. From an event loop, writes are gathered and handed over
        together: waking the writer per write costs more (GIL hand-offs, context switches) than the writes.
        A write someone awaits goes at the end of this loop iteration; the rest wait up to `GATHER_S`."""
        if self._writer is None:
            raise RuntimeError("the store's writer is not running (use the engine inside `async with`)")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._queue.put([write])
            return
        self._gathered.append(write)
        if write.done is not None and not self._soon:
            self._soon = True
            loop.call_soon(self._hand_over)
        elif not self._later:
            self._later = True
            loop.call_later(GATHER_S, self._hand_over)

    def _hand_over(self) -> None:
        self._soon = self._later = False
        writes, self._gathered = self._gathered, []
        if writes:
            self._queue.put(writes)

    async def commit(self, write: Write) -> None:
        """Queues the write and returns once it is committed."""
        write.done = asyncio.get_running_loop().create_future()
        self.submit(write)
        await write.done

    async def flush(self) -> None:
        await self.commit(Write())

    def stop(self) -> None:
        if self._writer is not None:
            self._hand_over()
            self._queue.put(None)
            self._writer.join()
            self._writer = None

    def close(self) -> None:
        self.stop()
        with self._lock:
            self._conn.close()

    def _write_loop(self) -> None:
        conn = connect(self.path)
        try:
            while True:
                batches = [self._queue.get()]
                while len(batches) < 256:
                    try:
                        batches.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                writes = [write for batch in batches if batch is not None for write in batch]
                if writes:
                    self._apply(conn, writes)
                if None in batches:
                    return
        finally:
            conn.close()

    def _apply(self, conn: sqlite3.Connection, writes: list[Write]) -> None:
        def body(c: sqlite3.Connection) -> None:
            _insert_rows(c, _INSERT_ANSWERS, [row for w in writes for row in w.answers])
            _insert_rows(c, _INSERT_LEDGER, [row for w in writes for row in w.ledger])
            for w in writes:
                for sql, params in w.statements:
                    c.execute(sql, params)

        error: BaseException | None = None
        try:
            retry_busy(lambda: _transaction(conn, body))
        except Exception as exc:  # surfaces in every waiting caller instead of killing the writer
            error = exc
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future]] = {}
        for w in writes:
            if w.done is not None:
                by_loop.setdefault(w.done.get_loop(), []).append(w.done)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, futures, error)


def _settle(futures: list[asyncio.Future], error: BaseException | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

"""The cost ledger: one row per request attempt or cache hit, kept in SQLite and exported as Parquet.

SQLite is the durable record (rows commit with their answers); the Parquet files under
`Home.llm_dir/ledger/` — one per engine run, written when the engine closes — are what DuckDB's
`llm_ledger` view reads. A run killed before it could export is exported by the next engine that opens
the same home, so no spend goes missing from the view.
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from svit_assets.llm.store import LEDGER_COLUMNS, Store

LEDGER_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("run_label", pa.string()),
        ("key", pa.string()),
        ("tag", pa.string()),
        ("model", pa.string()),
        ("status", pa.string()),
        ("http_status", pa.int32()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("latency_s", pa.float64()),
        ("attempt", pa.int32()),
        ("cache_hit", pa.bool_()),
        ("batch", pa.bool_()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("error", pa.string()),
    ]
)


@dataclass
class RunStats:
    """In-memory per-run counters behind `rollup()`: cheap to update on the hot path."""

    requests_sent: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    rate_limited_429: int = 0
    retries: int = 0
    failures: int = 0
    batch_requests: int = 0
    latencies: list[float] = field(default_factory=list)

    def rollup(self) -> dict:
        ordered = sorted(self.latencies)

        def quantile(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4) if ordered else 0.0

        return {
            "requests_sent": self.requests_sent,
            "cache_hits": self.cache_hits,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "rate_limited_429": self.rate_limited_429,
            "retries": self.retries,
            "failures": self.failures,
            "batch_requests": self.batch_requests,
            "latency_p50_s": quantile(0.50),
            "latency_p95_s": quantile(0.95),
        }


def register_run(store: Store, run_id: str, run_label: str) -> None:
    store.execute_write(
        lambda c: c.execute(
            "INSERT INTO runs (run_id, run_label, host, pid, started) VALUES (?,?,?,?,?)",
            (run_id, run_label, socket.gethostname(), os.getpid(), time.time()),
        )
    )


def _file_name(run_label: str, run_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", run_label).strip("_") or "run"
    return f"{safe}-{run_id}.parquet"


def export_run(store: Store, directory: Path, run_id: str, run_label: str) -> Path:
    """Writes the run's ledger rows to `<run_label with / replaced>-<run_id>.parquet` (atomic replace)."""
    rows = store.query(f"SELECT {LEDGER_COLUMNS} FROM ledger WHERE run_id = ? ORDER BY id", (run_id,))
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in LEDGER_SCHEMA.names]
    data = dict(zip(LEDGER_SCHEMA.names, columns, strict=True))
    data["cache_hit"] = [bool(v) for v in data["cache_hit"]]
    data["batch"] = [bool(v) for v in data["batch"]]
    data["ts"] = [int(v * 1_000_000) for v in data["ts"]]
    table = pa.table({name: pa.array(data[name], type=LEDGER_SCHEMA.field(name).type) for name in data})
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / _file_name(run_label, run_id)
    temporary = target.with_suffix(f".tmp-{os.getpid()}")
    pq.write_table(table, temporary)
    os.replace(temporary, target)
    store.execute_write(
        lambda c: c.execute(
            "UPDATE runs SET closed = coalesce(closed, ?), exported = ? WHERE run_id = ?",
            (time.time(), target.name, run_id),
        )
    )
    return target


def _alive(pid: int, started: float) -> bool:
    try:
        return psutil.Process(pid).create_time() <= started + 1
    except psutil.Error:
        return False


def export_orphans(store: Store, directory: Path) -> list[Path]:
    """Exports runs of this host whose process died before closing (e.g. kill -9)."""
    orphans = store.query(
        "SELECT run_id, run_label, pid, started FROM runs WHERE exported IS NULL AND host = ?",
        (socket.gethostname(),),
    )
    return [
        export_run(store, directory, run_id, label)
        for run_id, label, pid, started in orphans
        if not _alive(pid, started)
    ]

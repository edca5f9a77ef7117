"""Atomic Parquet writes, quarantine files and the DuckDB catalog of views over the warehouse.

Partition runs execute in parallel processes, so nothing here shares a writable file between them: each
partition writes its own Parquet under a temporary name and `os.replace`s it, and the catalog holds only glob
views, rewritten under a file lock and only when a definition changes, for the few milliseconds of the DDL.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock

from svit_assets.home import Home

if TYPE_CHECKING:
    import duckdb

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string()),
        pa.field("stage", pa.string()),
        pa.field("record_kind", pa.string()),
        pa.field("image_id", pa.int64()),
        pa.field("record_id", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("raw", pa.string()),
    ]
)


@dataclass(frozen=True)
class View:
    """A catalog view over the Parquet files matching `glob` (relative to Home.warehouse) and, when given,
    the regular expression `match` on their paths: one glob keeps the view live as files appear, and the
    pattern carves a view out of a shared folder (ingest vs. task quarantine)."""

    glob: str
    match: str | None = None

    def present(self, warehouse: Path) -> bool:
        pattern = re.compile(self.match) if self.match else None
        return any(pattern is None or pattern.search(p.as_posix()) for p in warehouse.glob(self.glob))

    def sql(self, warehouse: Path) -> str:
        source = f"read_parquet({_quote(str(warehouse / self.glob))}, union_by_name = true"
        if self.match is None:
            return f"SELECT * FROM {source})"
        return f"SELECT * EXCLUDE (filename) FROM {source}, filename = true) WHERE regexp_matches(filename, {_quote(self.match)})"


# The lead registers more views by passing e.g. {**CORE_VIEWS, "conversation": "tasks/conversation/*.parquet"}.
CORE_VIEWS: dict[str, View | str] = {
    "images": "staging/images/*.parquet",
    "objects": "staging/objects/*.parquet",
    "attributes": "staging/attributes/*.parquet",
    "relationships": "staging/relationships/*.parquet",
    "regions": "staging/regions/*.parquet",
    "coco_captions": "staging/coco_captions/*.parquet",
    "coco_instances": "staging/coco_instances/*.parquet",
    "coco_images": "staging/coco_*_images/*.parquet",
    "image_batches": "batches.parquet",
    "image_annotations": "image_annotations/*.parquet",
    "quarantine": View(
        "quarantine/*/*.parquet", r"/quarantine/(stage_[^/]+|image_annotations)/[^/]+\.parquet$"
    ),
}

ROW_GROUP_ROWS = 32_768
_LOCK_RETRY_SECONDS = 60.0


def write_parquet_atomic(table: pa.Table, path: str | os.PathLike, **options: Any) -> Path:
    """Write next to `path` under a name no glob `*.parquet` matches, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    options.setdefault("row_group_size", ROW_GROUP_ROWS)
    options.setdefault("compression", "zstd")
    try:
        pq.write_table(table, tmp, **options)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def quarantine_table(rows: Iterable[Mapping[str, Any]] | pa.Table) -> pa.Table:
    if isinstance(rows, pa.Table):
        return rows.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA)
    return pa.Table.from_pylist(list(rows), schema=QUARANTINE_SCHEMA)


def write_quarantine(
    home: Home, rows: Iterable[Mapping[str, Any]] | pa.Table, asset: str, partition: str = "all"
) -> Path:
    """Replace the quarantine file of one asset partition (written even when empty, so a clean re-run
    clears the previous run's rows)."""
    return write_parquet_atomic(quarantine_table(rows), home.quarantine_file(asset, partition))


def refresh_catalog(home: Home, views: Mapping[str, View | str] | None = None) -> list[str]:
    """Create or replace one DuckDB view per table that has files (glob views, so partitions written later
    appear without a refresh); views whose files are all gone are dropped. Returns the views present.

    Serialised across processes by a file lock; the DuckDB connection is opened only when a definition
    changes and is retried while another process (a reader) holds DuckDB's own lock."""
    views = CORE_VIEWS if views is None else views
    wanted: dict[str, str] = {}
    for name, spec in views.items():
        view = View(spec) if isinstance(spec, str) else spec
        if view.present(home.warehouse):
            wanted[name] = view.sql(home.warehouse)
    home.locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home.locks / "catalog.lock")):
        current = _with_catalog(home, _existing_views, read_only=True) if home.catalog.exists() else {}
        stale = [name for name in current if name in views and name not in wanted]
        changed = {name: sql for name, sql in wanted.items() if current.get(name) != sql}
        if changed or stale:
            _with_catalog(home, lambda con: _apply(con, changed, stale), read_only=False)
    return sorted(set(current) - set(stale) | set(wanted))


def arrow_table(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    """A DuckDB relation as an Arrow table (DuckDB 2 renamed `fetch_arrow_table`)."""
    return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.fetch_arrow_table()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _existing_views(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'"
    ).fetchall()
    return {name: comment or "" for name, comment in rows}


def _apply(con: duckdb.DuckDBPyConnection, changed: Mapping[str, str], stale: Iterable[str]) -> None:
    con.execute("BEGIN")
    for name in stale:
        con.execute(f'DROP VIEW IF EXISTS "{name}"')
    for name, sql in changed.items():
        con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
        # the defining SELECT is kept as the comment so the next refresh can compare definitions exactly
        con.execute(f'COMMENT ON VIEW "{name}" IS {_quote(sql)}')
    con.execute("COMMIT")


def _with_catalog(home: Home, action: Any, *, read_only: bool) -> Any:
    import duckdb  # not at module level: staging workers import this module and mostly never need DuckDB

    deadline = time.monotonic() + _LOCK_RETRY_SECONDS
    delay = 0.01
    while True:
        try:
            con = duckdb.connect(str(home.catalog), read_only=read_only)
        except duckdb.IOException as err:
            if "lock" not in str(err).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
            continue
        try:
            return action(con)
        finally:
            con.close()

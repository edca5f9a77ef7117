"""Atomic writes, quarantine files and the catalog: glob views, extra views, concurrent refreshes."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from svit_assets.home import Home
from svit_assets.warehouse import CORE_VIEWS, refresh_catalog, write_parquet_atomic, write_quarantine


def _count(home: Home, view: str) -> int:
    con = duckdb.connect(str(home.catalog), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
    finally:
        con.close()


def _partition(home: Home, key: str, n: int) -> None:
    write_parquet_atomic(
        pa.table({"image_id": list(range(n)), "batch": [key] * n}),
        home.partition_file("image_annotations", key),
    )


def test_atomic_write_leaves_no_temporary_files(home: Home) -> None:
    path = home.partition_file("image_annotations", "b00000001-00000002")
    write_parquet_atomic(pa.table({"a": [1]}), path)
    write_parquet_atomic(pa.table({"a": [2, 3]}), path)
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    with pytest.raises(pa.ArrowException):
        write_parquet_atomic(pa.table({"a": [1]}), path, compression="no-such-codec")
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_views_follow_new_files_and_extra_views(home: Home) -> None:
    assert refresh_catalog(home) == []
    _partition(home, "b00000001-00000002", 2)
    write_quarantine(home, [], "image_annotations", "b00000001-00000002")
    assert refresh_catalog(home) == ["image_annotations", "quarantine"]
    _partition(home, "b00000003-00000005", 3)  # a glob view sees new partitions without a refresh
    assert _count(home, "image_annotations") == 5
    write_quarantine(
        home,
        [
            {
                "source_file": "x",
                "stage": "stage_objects",
                "record_kind": "object",
                "image_id": 1,
                "record_id": "7",
                "reason": "nan",
                "detail": "d",
                "raw": "{}",
            }
        ],
        "stage_objects",
    )
    assert _count(home, "quarantine") == 1
    task = home.warehouse / "tasks" / "conversation" / "b00000001-00000002.parquet"
    write_parquet_atomic(pa.table({"image_id": [1, 2, 3]}), task)
    views = refresh_catalog(home, {**CORE_VIEWS, "conversation": "tasks/conversation/*.parquet"})
    assert "conversation" in views and _count(home, "conversation") == 3
    for path in home.table_dir("image_annotations").iterdir():
        path.unlink()
    assert "image_annotations" not in refresh_catalog(home)


def _refresh_many(root: str, worker: int, rounds: int) -> None:
    home = Home(Path(root))
    for k in range(rounds):
        _partition(home, f"b{worker:04d}{k:04d}-{worker:04d}{k:04d}", 1)
        refresh_catalog(home, {**CORE_VIEWS, f"extra_{worker}_{k % 3}": "image_annotations/*.parquet"})


def test_concurrent_refreshes_never_fail_on_the_duckdb_lock(home: Home) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_refresh_many, args=(str(home.root), w, 8)) for w in range(3)]
    stop = threading.Event()

    def reader() -> None:  # a reader holding the catalog open now and then
        while not stop.is_set():
            if home.catalog.exists():
                try:
                    con = duckdb.connect(str(home.catalog), read_only=True)
                except duckdb.Error:
                    time.sleep(0.01)
                    continue
                time.sleep(0.05)
                con.close()
            time.sleep(0.02)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
    finally:
        stop.set()
        thread.join()
    refresh_catalog(home)
    assert _count(home, "image_annotations") == 24

"""`svit run` end to end in a temporary home, as a user runs it: then the catalog, the UI and re-runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = PROJECT_ROOT / "data" / "sample"
TASKS = ("conversation", "complex_reasoning", "detail_description", "referring_qa")


def svit(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SVIT_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "svit_assets.cli", *args],
        cwd=PROJECT_ROOT,
        env={**clean_env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("home")
    result = svit("run", "--annotations", str(SAMPLE), "--home", str(home), "--batch-size", "8")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home


def query(home: Path, sql: str):
    with duckdb.connect(str(home / "svit.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_run_materializes_every_asset_and_catalog_answers(demo_home: Path):
    images = json.loads((SAMPLE / "visual_genome" / "image_data.json").read_text())
    assert query(demo_home, "select count(*) from images")[0][0] == len(images)
    annotated = query(demo_home, "select count(*) from image_annotations")[0][0]
    quarantined_images = query(demo_home, "select count(*) from quarantine where record_kind = 'image'")[0][0]
    assert annotated + quarantined_images == len(images)
    for view in ("objects", "attributes", "relationships", "regions", "coco_captions", "coco_instances", "quarantine"):
        assert query(demo_home, f"select count(*) from {view}")[0][0] > 0, view
    for task in TASKS:
        rows = query(demo_home, f"select count(*), count(distinct image_id), min(generator), max(generator) from {task}")[0]
        assert rows[0] > 0 and rows[1] > 0, task
        assert rows[2] == rows[3] == "offline", task
    batches = query(demo_home, "select count(distinct batch) from image_batches")[0][0]
    assert batches == -(-len(images) // 8)


def test_summary_says_what_happened_and_where(tmp_path: Path):
    result = svit("run", "--annotations", str(SAMPLE), "--home", str(tmp_path), "--batch-size", "100")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "image_annotations" in out and "conversation" in out
    assert str(tmp_path / "svit.duckdb") in out
    assert "svit ui" in out


def test_missing_image_data_is_a_clear_error(tmp_path: Path):
    (tmp_path / "ann" / "visual_genome").mkdir(parents=True)
    result = svit("run", "--annotations", str(tmp_path / "ann"), "--home", str(tmp_path / "home"))
    assert result.returncode != 0
    assert "image_data.json" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ui_shows_what_the_run_materialized(demo_home: Path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SVIT_", "DAGSTER_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "svit_assets.cli", "ui", "--home", str(demo_home), "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        body = json.dumps(
            {"query": "{ assetNodes { assetKey { path } partitionStats { numMaterialized } } }"}
        ).encode()
        deadline = time.monotonic() + 120
        while True:
            try:
                request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    payload = json.loads(response.read())
                nodes = payload["data"]["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("the Dagster UI did not answer within 120 s")
            time.sleep(1)
        materialized = {
            "/".join(n["assetKey"]["path"]): (n["partitionStats"] or {}).get("numMaterialized") for n in nodes
        }
        for task in TASKS:
            assert materialized[task] and materialized[task] >= 1, materialized
        assert materialized["image_annotations"] >= 1
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def test_parallel_partition_runs_in_separate_processes_replace_not_duplicate(demo_home: Path):
    """Two batches re-materialized at once by separate `dagster` processes: no DuckDB lock errors, and the
    catalog counts are exactly those of the first run (re-materializing a partition replaces it)."""
    before = {view: query(demo_home, f"select count(*) from {view}")[0][0] for view in ("image_annotations", "conversation")}
    keys = [row[0] for row in query(demo_home, "select distinct batch from image_batches order by 1")][:2]
    assert len(keys) == 2
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SVIT_", "DAGSTER_"))}
    env.update(SVIT_HOME=str(demo_home), DAGSTER_HOME=str(demo_home / "dagster"))
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "svit_assets.definitions",
             "--select", "image_annotations,conversation", "--partition", key],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for key in keys
    ]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
    after = {view: query(demo_home, f"select count(*) from {view}")[0][0] for view in before}
    assert after == before

"""The task pipeline against a real model: SmolLM2-135M behind llama.cpp's OpenAI server.

A 135M model gets most structured outputs wrong; what matters is that the pipeline completes, that every
image ends up accepted or quarantined with a reason, that nothing accepted breaks a validation rule, and
that a re-run is served from the cache.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from svit_assets.annotations import ImageAnnotations
from svit_assets.home import Home
from svit_assets.ingest.batches import plan_batches
from svit_assets.ingest.join import build_image_annotations
from svit_assets.ingest.sources import AnnotationSources
from svit_assets.ingest.staging import stage_table
from svit_assets.llm import LLMEngine, LLMSettings
from svit_assets.tasks.generate import generate_task_batch, task_check_results
from svit_assets.tasks.specs import TASK_SPECS

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
MODEL = "smollm2-135m-instruct"


def settings(base_url: str) -> LLMSettings:
    # llama-cpp-python refuses json_schema and its json_object grammar costs seconds per token on two
    # cores, so the model is asked for JSON by the prompt alone and the tolerant parser does the rest.
    return LLMSettings(
        model=MODEL, base_url=base_url, max_concurrency=2, timeout_s=300, max_attempts=2, structured_output="none"
    )


def test_task_pipeline_completes_a_batch_with_the_small_model(llama_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "not-needed-by-llama-cpp")
    home = Home(tmp_path).ensure()
    sources = AnnotationSources.discover(SAMPLE)
    for table in ("images", "attributes", "objects", "relationships", "regions", "coco_captions", "coco_instances"):
        stage_table(home, sources, table)
    batch = plan_batches(home, batch_size=1)[0]
    build_image_annotations(home, batch.key)
    rows = pq.read_table(home.partition_file("image_annotations", batch.key)).to_pylist()
    images = [ImageAnnotations.from_record(row) for row in rows]

    for task in ("detail_description", "referring_qa"):
        # One image, short completions and no re-ask keep this to a couple of minutes on two CPU cores
        # (re-asks are covered against the scripted test server); truncation is a valid outcome.
        spec = dataclasses.replace(TASK_SPECS[task], max_tokens=192, max_attempts=1)
        result = generate_task_batch(spec, images, engine=LLMEngine(settings(llama_server), home, run_label=task), batch_key=batch.key)
        accepted_images = set(result.records.column("image_id").to_pylist())
        quarantined_images = set(result.quarantine.column("image_id").to_pylist())
        assert accepted_images | quarantined_images == {image.image_id for image in images}
        for row in result.quarantine.to_pylist():
            assert row["reason"], row
        blocking = [o for o in task_check_results(result.records, result.quarantine, spec) if o.severity == "ERROR"]
        assert all(o.passed for o in blocking), [(o.name, json.dumps(o.metadata, default=str)) for o in blocking]
        assert all(g == MODEL for g in result.records.column("generator").to_pylist())

        rerun = generate_task_batch(spec, images, engine=LLMEngine(settings(llama_server), home, run_label=f"{task}/rerun"), batch_key=batch.key)
        assert rerun.metrics["requests_sent"] == result.metrics["llm"]["failures"]  # answers are never re-bought
        assert rerun.records.equals(result.records)

"""Batches and the per-batch join: schema, counts, COCO joins, idempotence, parallel builds and the catalog."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import duckdb
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq
import pytest

from svit_assets.annotations import IMAGE_ANNOTATIONS_SCHEMA, ImageAnnotations
from svit_assets.home import Home
from svit_assets.ingest.batches import batch_key, parse_batch_key, plan_batches, read_batches
from svit_assets.ingest.join import build_image_annotations
from svit_assets.ingest.sources import AnnotationSources
from svit_assets.ingest.staging import stage_all
from svit_assets.warehouse import refresh_catalog


@pytest.fixture
def staged_sample(home: Home, vg_sample: Path) -> Home:
    stage_all(home, AnnotationSources.discover(vg_sample), workers=1)
    return home


def test_batch_keys() -> None:
    assert batch_key(1, 2417997) == "b00000001-02417997"
    assert parse_batch_key("b00000001-02417997") == (1, 2417997)
    for bad in ("b1-2", "x00000001-00000002", "b00000009-00000001"):
        with pytest.raises(ValueError):
            parse_batch_key(bad)


def test_plan_batches(staged_sample: Home) -> None:
    batches = plan_batches(staged_sample, batch_size=5)
    assert [b.key for b in batches] == [
        "b02500001-02500005",
        "b02500006-02500010",
        "b02500011-02500015",
        "b02500016-02500016",
    ]
    assert [b.n_images for b in batches] == [5, 5, 5, 1]
    plan = pq.read_table(staged_sample.warehouse / "batches.parquet").to_pylist()
    assert len(plan) == 16 and plan[5] == {"image_id": 2500006, "batch": "b02500006-02500010"}
    assert read_batches(staged_sample) == {b.key: b.n_images for b in batches}


def test_join_matches_the_staged_tables(staged_sample: Home) -> None:
    home = staged_sample
    batches = plan_batches(home, batch_size=6)
    reports = [build_image_annotations(home, b.key) for b in batches]
    table = pa_ds.dataset(home.table_dir("image_annotations"), format="parquet").to_table()
    assert table.schema.equals(IMAGE_ANNOTATIONS_SCHEMA)
    assert table["image_id"].to_pylist() == sorted(table["image_id"].to_pylist()) and table.num_rows == 16

    def rows(name: str) -> int:
        return pa_ds.dataset(home.staging / name, format="parquet").count_rows()

    assert sum(r.objects for r in reports) == rows("objects")
    assert sum(r.relationships for r in reports) == rows("relationships")
    assert sum(r.regions for r in reports) == rows("regions")
    assert sum(r.captions for r in reports) == rows("coco_captions") == 55
    assert sum(r.instances for r in reports) == rows("coco_instances")
    records = {r["image_id"]: ImageAnnotations.from_record(r) for r in table.to_pylist()}
    with_coco = [a for a in records.values() if a.coco_id is not None]
    assert len(with_coco) == 11 and all(
        len(a.captions) == 5 and 3 <= len(a.instances) <= 12 for a in with_coco
    )
    assert all(not a.captions and not a.instances for a in records.values() if a.coco_id is None)
    assert any(o.attributes for a in records.values() for o in a.objects)
    assert all(r.quarantined == {} for r in reports)
    crowd = [i for a in records.values() for i in a.instances if i.segmentation_kind == "rle"]
    assert len(crowd) == 3 and all(i.rle_counts and i.rle_size for i in crowd)


def test_rebuilding_a_batch_is_idempotent(staged_sample: Home) -> None:
    key = plan_batches(staged_sample, batch_size=8)[0].key
    first = build_image_annotations(staged_sample, key)
    before = pq.read_table(first.path)
    second = build_image_annotations(staged_sample, key)
    assert pq.read_table(second.path).equals(before) and first.path == second.path
    assert [p.name for p in staged_sample.table_dir("image_annotations").iterdir()] == [f"{key}.parquet"]


def _annotations(ann, root: Path, coco: bool) -> Path:
    images = [
        ann.image(1, coco_id=1),
        ann.image(2, coco_id=2),
        ann.image(3, coco_id=404),
        ann.image(4, coco_id=1),
        ann.image(5),
    ]
    files = {
        "image_data": images,
        "objects": [{"image_id": i, "objects": [ann.obj(i * 10)]} for i in range(1, 6)],
    }
    if coco:
        files["captions_train2017"] = {
            "images": [{"id": c, "width": 100, "height": 80, "file_name": f"{c}.jpg"} for c in (1, 2)],
            "annotations": [
                {"image_id": 1, "id": 1, "caption": "one"},
                {"image_id": 2, "id": 2, "caption": "two"},
            ],
        }
    return ann.write(root, **files)


def test_unknown_coco_id_is_quarantined_only_with_coco_files(home: Home, tmp_path: Path, ann) -> None:
    stage_all(home, AnnotationSources.discover(_annotations(ann, tmp_path / "with", coco=True)), workers=1)
    plan_batches(home, batch_size=3)
    first, second = (
        build_image_annotations(home, "b00000001-00000003"),
        build_image_annotations(home, "b00000004-00000005"),
    )
    assert first.quarantined == {"unknown_coco_id": 1} and first.images == 2
    rejected = pq.read_table(home.quarantine_file("image_annotations", "b00000001-00000003")).to_pylist()
    assert [(r["image_id"], r["reason"], r["stage"]) for r in rejected] == [
        (3, "unknown_coco_id", "image_annotations")
    ]
    # image 4 shares coco_id 1 with image 1 (another batch): it still gets that image's captions
    got = {r["image_id"]: r["captions"] for r in pq.read_table(second.path).to_pylist()}
    assert got == {4: ["one"], 5: []}

    plain = Home(tmp_path / "no-coco")
    stage_all(
        plain, AnnotationSources.discover(_annotations(ann, tmp_path / "without", coco=False)), workers=1
    )
    plan_batches(plain, batch_size=3)
    report = build_image_annotations(plain, "b00000001-00000003")
    assert report.quarantined == {} and report.images == 3


def _build_and_refresh(root: str, keys: list[str]) -> None:
    home = Home(Path(root))
    for key in keys:
        build_image_annotations(home, key)
        refresh_catalog(home)


def test_parallel_batches_and_catalog_refresh(staged_sample: Home) -> None:
    home = staged_sample
    keys = [b.key for b in plan_batches(home, batch_size=4)]
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_build_and_refresh, args=(str(home.root), keys[i::2])) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    views = refresh_catalog(home)
    assert {"images", "objects", "image_annotations", "image_batches", "quarantine", "coco_images"} <= set(
        views
    )
    con = duckdb.connect(str(home.catalog), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT image_id) FROM image_annotations").fetchone() == (
            16,
            16,
        )
        assert con.execute("SELECT count(*) FROM image_batches").fetchone() == (16,)
        staged_objects = con.execute("SELECT count(*) FROM objects").fetchone()[0]
        nested = con.execute("SELECT sum(len(objects)) FROM image_annotations").fetchone()[0]
        assert nested == staged_objects
        reasons = dict(con.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason").fetchall())
        assert reasons == {"box_outside_image": 2, "degenerate_box": 2, "negative_size": 2}
    finally:
        con.close()

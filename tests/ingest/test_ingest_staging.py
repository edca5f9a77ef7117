"""Staging: real quirks, every bad-record rule with its exact reason, reconciling counts, COCO specifics."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq
import pytest
from pycocotools import mask as mask_utils

from svit_assets.home import Home
from svit_assets.ingest import staging
from svit_assets.ingest.sources import AnnotationSources
from svit_assets.ingest.staging import SPECS, default_workers, stage_all, stage_table

VG_TABLES = ["images", "attributes", "objects", "relationships", "regions"]


def staged(home: Home, table: str) -> pa.Table:
    return pa_ds.dataset(home.staging / table, format="parquet").to_table()


def quarantined(home: Home, table: str) -> list[dict]:
    return pq.read_table(home.quarantine_file(f"stage_{table}")).to_pylist()


def test_real_fixtures_stage_and_reconcile(home: Home, vg_fixtures: Path, ann) -> None:
    reports = ann.stage(home, vg_fixtures, *VG_TABLES, "coco_captions", "coco_instances")
    expected = {
        "objects": ("objects.json", "objects"),
        "attributes": ("attributes.json", "attributes"),
        "relationships": ("relationships.json", "relationships"),
        "regions": ("region_descriptions.json", "regions"),
    }
    for table, (name, key) in expected.items():
        records = sum(len(e[key]) for e in json.loads((vg_fixtures / "visual_genome" / name).read_bytes()))
        report = reports[table]
        assert report.read == records and report.reconciles and report.elements == 50
        assert staged(home, table).num_rows == report.accepted
        assert len(quarantined(home, table)) == report.quarantined_total
    assert reports["images"].accepted == 50
    rels = staged(home, "relationships").to_pylist()
    assert {r["predicate_raw"] for r in rels} >= {"ON", "wears"}
    assert all(r["predicate"] == " ".join(r["predicate_raw"].lower().split()) for r in rels)
    assert all(r["subject_name"] and r["object_name"] for r in rels)
    regions = staged(home, "regions")
    assert not any(p != p.strip() for p in regions["phrase"].to_pylist())
    assert reports["objects"].clipped == 9 and pa.compute.sum(staged(home, "objects")["clipped"]).as_py() == 9
    # the COCO samples are not referentially consistent: their annotations name images the files lack
    for table in ("coco_captions", "coco_instances"):
        assert reports[table].quarantined == {"unknown_image": 100} and reports[table].reconciles


def test_sample_quirks(home: Home, vg_sample: Path) -> None:
    reports = stage_all(home, AnnotationSources.discover(vg_sample), workers=1)
    assert all(r.reconciles for r in reports.values())
    objects = quarantined(home, "objects")
    assert {(q["record_id"], q["reason"]) for q in objects} >= {("3900196", "box_outside_image")}
    assert Counter(q["reason"] for q in objects) == {
        "box_outside_image": 1,
        "degenerate_box": 1,
        "negative_size": 1,
    }
    assert [q["reason"] for q in quarantined(home, "regions")] == ["degenerate_box"]
    assert reports["objects"].clipped >= 4 and reports["regions"].clipped >= 2
    objs = staged(home, "objects")
    assert sum(len(a) for a in objs["attributes"].to_pylist()) > 0
    bus = [o for o in objs.to_pylist() if o["name"] == "bus" and o["clipped"]]
    assert bus and all(o["x"] >= 0 for o in bus)
    images = staged(home, "images")
    assert images["image_id"].to_pylist() == sorted(images["image_id"].to_pylist())
    rle = [i for i in staged(home, "coco_instances").to_pylist() if i["segmentation_kind"] == "rle"]
    assert len(rle) == 3 and all(isinstance(i["rle_counts"], str) and len(i["rle_size"]) == 2 for i in rle)
    assert all(i["polygons"] is None and i["iscrowd"] for i in rle)
    assert staged(home, "coco_captions").num_rows == 55


def test_worker_count_follows_input_size(vg_sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = AnnotationSources.discover(vg_sample)
    assert default_workers(sources) == 1  # small input: one process, no pool
    monkeypatch.setattr(staging, "POOL_MIN_BYTES", 1)
    assert default_workers(sources) == 2


def _bad_objects(ann) -> bytes:
    o = ann.obj
    parts = [
        b'{"image_id": 1, "objects": [',
        ann.dumps(o(11)),
        b", ",
        ann.dumps({**o(12), "x": "10"}),
        b", ",
        ann.dumps(o(13))[:-1] + b', "extra": NaN}',
        b", ",
        ann.dumps(o(14, w=-5)),
        b", ",
        ann.dumps(o(15, h=0)),
        b", ",
        ann.dumps(o(16, x=200)),
        b", ",
        ann.dumps(o(17, x=90, w=20)),
        b", ",
        ann.dumps(o(11, name="again")),
        b", ",
        ann.dumps(o(18, name="caf\u00e9")).replace(b"caf\\u00e9", b"caf\xff\xfe"),
        b", ",
        ann.dumps({k: v for k, v in o(19).items() if k != "object_id"}),
        b", ",
        ann.dumps({**o(20), "names": []}),
        b", ",
        ann.dumps(o(21)).replace(b'"x": 10', b'"x": 1e999'),
        b"]}, ",
        b'{"image_id": 2, "objects": [',
        ann.dumps(o(11)),
        b", ",
        ann.dumps(o(22)).replace(b'"y": 10', b'"y": NaN'),
        b"]}, ",
        b'{"image_id": 3}, ',
        b'{"image_id": 4, "objects": [',
        ann.dumps(o(23, x=-5, y=70, w=50, h=50)),
        b"]}, ",
        b'{"image_id": 99, "objects": [',
        ann.dumps(o(30)),
        b"]}",
    ]
    return b"[" + b"".join(parts) + b"]"


EXPECTED_OBJECT_REASONS = {
    ("1", "12"): "wrong_type",
    ("1", "13"): "ok",  # NaN only in a field staging ignores
    ("1", "14"): "negative_size",
    ("1", "15"): "degenerate_box",
    ("1", "16"): "box_outside_image",
    ("1", "18"): "invalid_utf8",
    ("1", None): "missing_field",
    ("1", "20"): "missing_field",
    ("1", "21"): "nan",
    ("2", "11"): "duplicate_id",
    ("2", "22"): "nan",
    ("3", None): "missing_field",
    ("99", "30"): "unknown_image",
}


@pytest.mark.parametrize("chunk_bytes", [150, 1 << 20])
def test_bad_object_records_get_exact_reasons(home: Home, tmp_path: Path, ann, chunk_bytes: int) -> None:
    root = ann.write(
        tmp_path / "ann", image_data=[ann.image(i) for i in (1, 2, 3, 4)], objects=_bad_objects(ann)
    )
    sources = AnnotationSources.discover(root)
    stage_table(home, sources, "images", chunk_bytes=chunk_bytes)
    report = stage_table(home, sources, "objects", chunk_bytes=chunk_bytes)
    rows = quarantined(home, "objects")
    got = Counter((str(q["image_id"]), q["record_id"], q["reason"]) for q in rows)
    expected = Counter((i, r, reason) for (i, r), reason in EXPECTED_OBJECT_REASONS.items() if reason != "ok")
    expected[("1", "11", "duplicate_id")] += 1  # the second 11 inside image 1
    assert got == expected
    assert next(q for q in rows if q["image_id"] == 3)["record_kind"] == "image"
    assert "x: expected a number" in next(q["detail"] for q in rows if q["record_id"] == "12")
    assert "caf\\udcff\\udcfe" in next(q["raw"] for q in rows if q["reason"] == "invalid_utf8")
    accepted = staged(home, "objects").to_pylist()
    assert sorted((o["image_id"], o["object_id"]) for o in accepted) == [(1, 11), (1, 13), (1, 17), (4, 23)]
    clipped = {o["object_id"]: o for o in accepted if o["clipped"]}
    assert clipped.keys() == {17, 23}
    assert (clipped[17]["x"], clipped[17]["w"]) == (90, 10)
    assert (clipped[23]["x"], clipped[23]["y"], clipped[23]["w"], clipped[23]["h"]) == (0, 70, 45, 10)
    assert (
        report.read == 17 and report.accepted == 4 and report.quarantined_total == 13 and report.clipped == 2
    )
    assert report.quarantined == dict(Counter(q["reason"] for q in rows))


def test_bad_images(home: Home, tmp_path: Path, ann) -> None:
    img = ann.image
    images = [
        img(1),
        img(2, width=0),
        img(3, height=-1),
        {**img(4), "width": "wide"},
        {k: v for k, v in img(5).items() if k != "height"},
        img(1),
        img(6),
    ]
    root = ann.write(tmp_path / "ann", image_data=images)
    report = ann.stage(home, root, "images")["images"]
    got = {(q["record_id"], q["reason"]) for q in quarantined(home, "images")}
    assert got == {
        ("2", "zero_size"),
        ("3", "negative_size"),
        ("4", "wrong_type"),
        ("5", "missing_field"),
        ("1", "duplicate_id"),
    }
    assert staged(home, "images")["image_id"].to_pylist() == [1, 6]
    assert report.read == 7 and report.accepted == 2 and report.reconciles


def test_relationships_and_regions(home: Home, tmp_path: Path, ann) -> None:
    subject = {"name": "man", "h": 10, "synsets": ["man.n.01"], "object_id": 1, "w": 10, "y": 0, "x": 0}
    target = {"names": ["hat "], "h": 5, "object_id": 2, "w": 5, "y": 0, "x": 98, "merged_object_ids": []}
    rels = [
        {
            "predicate": "  Wearing \t A ",
            "object": target,
            "relationship_id": 7,
            "synsets": ["wear.v.01"],
            "subject": subject,
        },
        {
            "predicate": "ON",
            "object": {**target, "w": 0},
            "relationship_id": 8,
            "synsets": [],
            "subject": subject,
        },
        {"predicate": "   ", "object": target, "relationship_id": 9, "synsets": [], "subject": subject},
        {"predicate": "has", "relationship_id": 10, "synsets": [], "subject": subject},
        {"predicate": "has", "object": target, "relationship_id": 7, "synsets": [], "subject": subject},
    ]
    regions = [
        {
            "regions": [
                {
                    "region_id": 1,
                    "width": 20,
                    "height": 10,
                    "image_id": 1,
                    "phrase": "a man  ",
                    "y": 0,
                    "x": 0,
                },
                {"region_id": 2, "width": 20, "height": 10, "image_id": 1, "phrase": "   ", "y": 0, "x": 0},
                {
                    "region_id": 3,
                    "width": 500,
                    "height": 10,
                    "image_id": 1,
                    "phrase": "wide",
                    "y": 0,
                    "x": -5,
                },
                {"region_id": 1, "width": 20, "height": 10, "image_id": 1, "phrase": "dup", "y": 0, "x": 0},
            ],
            "id": 1,
        },
        {
            "regions": [
                {"region_id": 4, "width": 20, "height": 10, "image_id": 2, "phrase": "p", "y": 0, "x": 0}
            ],
            "id": 2,
        },
    ]
    root = ann.write(
        tmp_path / "ann",
        image_data=[ann.image(1), ann.image(2)],
        relationships=[{"relationships": rels, "image_id": 1}],
        region_descriptions=regions,
    )
    reports = ann.stage(home, root, "images", "relationships", "regions")
    good = staged(home, "relationships").to_pylist()
    assert len(good) == 1
    assert good[0]["predicate"] == "wearing a" and good[0]["predicate_raw"] == "  Wearing \t A "
    assert (good[0]["subject_name"], good[0]["object_name"], good[0]["clipped"]) == ("man", "hat", True)
    assert good[0]["object_w"] == 2 and reports["relationships"].clipped == 1
    assert {(q["record_id"], q["reason"]) for q in quarantined(home, "relationships")} == {
        ("8", "degenerate_box"),
        ("9", "missing_field"),
        ("10", "missing_field"),
        ("7", "duplicate_id"),
    }
    regs = staged(home, "regions").to_pylist()
    assert [(r["image_id"], r["region_id"], r["phrase"]) for r in regs] == [
        (1, 1, "a man"),
        (1, 3, "wide"),
        (2, 4, "p"),
    ]
    assert (regs[1]["x"], regs[1]["w"], regs[1]["clipped"]) == (0, 100, True)
    assert {(q["record_id"], q["reason"]) for q in quarantined(home, "regions")} == {
        ("2", "missing_field"),
        ("1", "duplicate_id"),
    }
    assert all(r.reconciles for r in reports.values())


def test_objects_get_attributes_merged(home: Home, tmp_path: Path, ann) -> None:
    attributes = [
        {
            "image_id": 1,
            "attributes": [
                {**ann.obj(11), "attributes": [" red ", "big"]},
                ann.obj(12),
                {**ann.obj(99), "attributes": ["lonely"]},
            ],
        }
    ]
    root = ann.write(
        tmp_path / "ann",
        image_data=[ann.image(1), ann.image(2)],
        objects=[
            {"image_id": 1, "objects": [ann.obj(11), ann.obj(12), ann.obj(13)]},
            {"image_id": 2, "objects": [ann.obj(14)]},
        ],
        attributes=attributes,
    )
    ann.stage(home, root, "images", "attributes", "objects")
    merged = {o["object_id"]: o["attributes"] for o in staged(home, "objects").to_pylist()}
    assert merged == {11: ["red", "big"], 12: [], 13: [], 14: []}
    assert staged(home, "attributes").num_rows == 3


def test_objects_need_attributes_staged_first(home: Home, tmp_path: Path, ann) -> None:
    root = ann.write(tmp_path / "ann", image_data=[ann.image(1)], objects=[], attributes=[])
    ann.stage(home, root, "images")
    with pytest.raises(FileNotFoundError, match="stage attributes before objects"):
        ann.stage(home, root, "objects")


def test_unsorted_source_is_staged_sorted(home: Home, tmp_path: Path, ann) -> None:
    ids = list(range(300, 0, -1))
    root = ann.write(
        tmp_path / "ann",
        image_data=[ann.image(i) for i in ids],
        region_descriptions=[
            {
                "regions": [
                    {
                        "region_id": i * 10 + k,
                        "width": 5,
                        "height": 5,
                        "image_id": i,
                        "phrase": "p",
                        "y": 0,
                        "x": 0,
                    }
                    for k in range(3)
                ],
                "id": i,
            }
            for i in ids
        ],
    )
    sources = AnnotationSources.discover(root)
    stage_table(home, sources, "images", chunk_bytes=2000)
    stage_table(home, sources, "regions", chunk_bytes=2000)
    for table in ("images", "regions"):
        parts = sorted((home.staging / table).glob("*.parquet"))
        column = [i for p in parts for i in pq.read_table(p, columns=["image_id"])["image_id"].to_pylist()]
        assert column == sorted(column)


def _coco(ann, with_categories_last: bool = True) -> dict:
    polygon = [[10.0, 10.0, 30.0, 10.0, 30.0, 30.0]]
    counts = [0, 5, 95, 5, 7895]
    annotations = [
        {
            "segmentation": polygon,
            "area": 200.0,
            "iscrowd": 0,
            "image_id": 1,
            "bbox": [10, 10, 20, 20],
            "category_id": 1,
            "id": 100,
        },
        {
            "segmentation": {"counts": counts, "size": [80, 100]},
            "area": 10.0,
            "iscrowd": 1,
            "image_id": 1,
            "bbox": [0, 0, 2, 5],
            "category_id": 1,
            "id": 101,
        },
        {
            "segmentation": {"size": [80, 100], "counts": "abc123"},
            "area": 3.0,
            "iscrowd": 1,
            "image_id": 2,
            "bbox": [0, 0, 1, 3],
            "category_id": 2,
            "id": 102,
        },
        {
            "segmentation": polygon,
            "area": 1.0,
            "iscrowd": 0,
            "image_id": 999,
            "bbox": [1, 1, 2, 2],
            "category_id": 1,
            "id": 103,
        },
        {
            "segmentation": polygon,
            "area": 1.0,
            "iscrowd": 0,
            "image_id": 1,
            "bbox": [1, 1, 2, 2],
            "category_id": 77,
            "id": 104,
        },
        {
            "segmentation": polygon,
            "area": 1.0,
            "iscrowd": 0,
            "image_id": 2,
            "bbox": [90, 70, 20, 20],
            "category_id": 2,
            "id": 105,
        },
        {
            "segmentation": polygon,
            "area": 1.0,
            "iscrowd": 0,
            "image_id": 2,
            "bbox": [1, 1, 2, 2],
            "category_id": 2,
            "id": 100,
        },
        {
            "segmentation": [[1.0, float("nan"), 3.0]],
            "area": 1.0,
            "iscrowd": 0,
            "image_id": 2,
            "bbox": [1, 1, 2, 2],
            "category_id": 2,
            "id": 106,
        },
        {
            "segmentation": polygon,
            "area": 1.0,
            "iscrowd": 0,
            "image_id": 2,
            "bbox": [1, 1, 2],
            "category_id": 2,
            "id": 107,
        },
    ]
    images = [
        {"license": 1, "file_name": f"{i:012d}.jpg", "height": 80, "width": 100, "id": i} for i in (1, 2, 3)
    ]
    categories = [
        {"supercategory": "person", "id": 1, "name": "person"},
        {"supercategory": "vehicle", "id": 2, "name": "bicycle"},
    ]
    head = {"info": {"description": "test"}, "licenses": []}
    if with_categories_last:
        return {**head, "images": images, "annotations": annotations, "categories": categories}
    return {**head, "categories": categories, "annotations": annotations, "images": images}


@pytest.mark.parametrize("categories_last", [True, False])
def test_coco_instances(home: Home, tmp_path: Path, ann, categories_last: bool) -> None:
    captions = {
        "info": {},
        "images": [{"id": 1, "width": 100, "height": 80, "file_name": "a"}],
        "annotations": [
            {"image_id": 1, "id": 1, "caption": " A cat. "},
            {"image_id": 5, "id": 2, "caption": "lost"},
            {"image_id": 1, "id": 3, "caption": ""},
        ],
    }
    root = ann.write(
        tmp_path / "ann",
        image_data=[ann.image(10, coco_id=1), ann.image(11, coco_id=2), ann.image(12, coco_id=1)],
        instances_train2017=ann.dumps(_coco(ann, categories_last)),
        captions_train2017=captions,
    )
    reports = ann.stage(home, root, "images", "coco_instances", "coco_captions")
    got = {(q["record_id"], q["reason"]) for q in quarantined(home, "coco_instances")}
    assert got == {
        ("103", "unknown_image"),
        ("104", "unknown_category"),
        ("100", "duplicate_id"),
        ("106", "nan"),
        ("107", "wrong_type"),
    }
    rows = {r["annotation_id"]: r for r in staged(home, "coco_instances").to_pylist()}
    assert set(rows) == {100, 101, 102, 105}
    expected_rle = mask_utils.frPyObjects({"counts": [0, 5, 95, 5, 7895], "size": [80, 100]}, 80, 100)[
        "counts"
    ].decode()
    assert (rows[101]["segmentation_kind"], rows[101]["rle_counts"], rows[101]["rle_size"]) == (
        "rle",
        expected_rle,
        [80, 100],
    )
    assert (rows[102]["rle_counts"], rows[102]["iscrowd"]) == ("abc123", True)
    assert (rows[100]["segmentation_kind"], rows[100]["polygons"], rows[100]["category"]) == (
        "polygon",
        [[10.0, 10.0, 30.0, 10.0, 30.0, 30.0]],
        "person",
    )
    assert (rows[105]["w"], rows[105]["h"], rows[105]["clipped"]) == (10, 10, True)
    assert {r["image_id"] for r in rows.values()} == {
        10,
        11,
    }  # rows belong to the VG image owning their coco_id
    assert reports["coco_instances"].clipped == 1
    owned = staged(home, "coco_instance_images").to_pylist()
    assert [(r["coco_id"], r["image_id"]) for r in owned] == [(1, 10), (2, 11), (3, None)]
    caps = staged(home, "coco_captions").to_pylist()
    assert [(c["coco_id"], c["caption"], c["image_id"]) for c in caps] == [(1, "A cat.", 10)]
    assert {(q["record_id"], q["reason"]) for q in quarantined(home, "coco_captions")} == {
        ("2", "unknown_image"),
        ("3", "missing_field"),
    }
    assert all(r.reconciles for r in reports.values())


def test_restaging_replaces(home: Home, tmp_path: Path, ann) -> None:
    first = ann.write(tmp_path / "a", image_data=[ann.image(i) for i in (1, 2, 3)] + [ann.image(3)])
    second = ann.write(tmp_path / "b", image_data=[ann.image(i) for i in (7, 8)])
    ann.stage(home, first, "images")
    old = (home.staging / "images").resolve()
    assert len(quarantined(home, "images")) == 1
    ann.stage(home, second, "images")
    assert staged(home, "images")["image_id"].to_pylist() == [7, 8]
    assert quarantined(home, "images") == []
    assert not old.exists() and (home.staging / "images").is_symlink()
    assert [p.name for p in (home.staging / ".versions").iterdir()] == [
        (home.staging / "images").resolve().name
    ]


def test_table_without_source_is_staged_empty(home: Home, tmp_path: Path, ann) -> None:
    root = ann.write(tmp_path / "ann", image_data=[ann.image(1)])
    reports = ann.stage(home, root, "images", "objects", "relationships", "coco_captions")
    for table in ("objects", "relationships", "coco_captions"):
        assert reports[table].source_files == [] and reports[table].read == 0 and reports[table].reconciles
        empty = staged(home, table)
        assert empty.num_rows == 0 and empty.schema.names == SPECS[table].output.names


def test_specs_cover_every_table() -> None:
    assert set(SPECS) == {
        "images",
        "objects",
        "attributes",
        "relationships",
        "regions",
        "coco_captions",
        "coco_instances",
    }

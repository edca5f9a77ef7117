"""The bundled sample (data/sample) and the synthetic full-scale writer (svit_assets.synth).

The sample is what `svit demo` ingests, so it must parse with plain `json`, carry every VG/COCO format quirk
the parser has to survive, join VG to COCO, and stay in sync with the script that authors it. The synthetic
writer feeds the scale benchmarks, so it must produce the same formats, realistic per-image counts, and the
same bytes for a seed whatever the number of worker processes.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from svit_assets.synth import COCO_FILES, VG_FILES, write_synthetic

# pycocotools 2.0 predates NumPy 2's __array__ copy keyword and warns on every decode
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def load_all(root: Path) -> dict[str, object]:
    files = {name: root / "visual_genome" / f"{name}.json" for name in VG_FILES}
    files |= {name: root / "coco" / f"{name}.json" for name in COCO_FILES}
    return {name: json.loads(path.read_text()) for name, path in files.items()}


def decode(segmentation, height: int, width: int) -> np.ndarray:
    """A COCO segmentation (polygons, uncompressed or compressed RLE) as a height×width mask."""
    if isinstance(segmentation, dict) and isinstance(segmentation["counts"], str):
        return mask_utils.decode(segmentation)
    rle = mask_utils.frPyObjects(segmentation, height, width)
    return mask_utils.decode(mask_utils.merge(rle) if isinstance(rle, list) else rle)


def box_state(item: dict, width: int, height: int) -> str:
    x, y = item["x"], item["y"]
    w, h = item.get("w", item.get("width")), item.get("h", item.get("height"))
    if w <= 0 or h <= 0:
        return "degenerate"
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        return "outside"
    if x < 0 or y < 0 or x + w > width or y + h > height:
        return "partly outside"
    return "inside"


@pytest.fixture(scope="module")
def sample(sample_dir: Path) -> dict[str, object]:
    return load_all(sample_dir)


# --- the bundled sample -----------------------------------------------------------------------------------


def test_sample_files_are_single_line_json_in_the_official_style(sample_dir: Path):
    for path in [*(sample_dir / "visual_genome").glob("*.json"), *(sample_dir / "coco").glob("*.json")]:
        text = path.read_text()
        assert "\n" not in text, path
        assert ', "' in text and '": ' in text and ',"' not in text, path
        json.loads(text)


def test_sample_key_order_matches_the_real_files(sample, shared_fixtures: Path):
    def shape(record: dict, nested: str) -> tuple:
        return tuple(record), tuple(record[nested][0])

    for name, nested in (("objects", "objects"), ("relationships", "relationships"),
                         ("region_descriptions", "regions"), ("image_data", None)):
        real = json.loads((shared_fixtures / "visual_genome" / f"{name}.json").read_text())
        if nested is None:
            assert tuple(sample[name][0]) == tuple(real[0])
        else:
            assert shape(sample[name][0], nested) == shape(real[0], nested)
    real_attributes = json.loads((shared_fixtures / "visual_genome" / "attributes.json").read_text())
    real_orders = {tuple(a) for record in real_attributes for a in record["attributes"]}
    assert {tuple(a) for record in sample["attributes"] for a in record["attributes"]} <= real_orders
    real_rels = json.loads((shared_fixtures / "visual_genome" / "relationships.json").read_text())
    real_dicts = {tuple(r[side]) for record in real_rels for r in record["relationships"] for side in ("subject", "object")}
    sample_dicts = {tuple(r[side]) for record in sample["relationships"] for r in record["relationships"]
                    for side in ("subject", "object")}
    assert sample_dicts == real_dicts
    real_instances = json.loads((shared_fixtures / "coco" / "instances_train2014.json").read_text())
    assert tuple(sample["instances_train2017"]["annotations"][0]) == tuple(real_instances["annotations"][0])
    assert tuple(sample["instances_train2017"]["images"][0]) == tuple(real_instances["images"][0])
    real_captions = json.loads((shared_fixtures / "coco" / "captions_train2014.json").read_text())
    assert tuple(sample["captions_train2017"]["annotations"][0]) == tuple(real_captions["annotations"][0])


def test_sample_has_every_format_quirk(sample):
    sizes = {i["image_id"]: (i["width"], i["height"]) for i in sample["image_data"]}
    regions = sample["region_descriptions"]
    assert all("id" in record and "image_id" not in record for record in regions)
    assert any(r["phrase"] != r["phrase"].rstrip() for record in regions for r in record["regions"])

    sides = [r[side] for record in sample["relationships"] for r in record["relationships"]
             for side in ("subject", "object")]
    assert any(isinstance(s.get("names"), list) and "name" not in s for s in sides)
    named = [s for s in sides if isinstance(s.get("name"), str)]
    assert len(named) > len(sides) / 2
    predicates = {r["predicate"] for record in sample["relationships"] for r in record["relationships"]}
    assert {"ON", "WEARING", "on top of", "has"} <= predicates

    states = Counter(box_state(o, *sizes[record["image_id"]])
                     for record in sample["objects"] for o in record["objects"])
    assert states["partly outside"] >= 3 and states["outside"] >= 1 and states["degenerate"] >= 2
    assert any(box_state(r, *sizes[record["id"]]) == "partly outside"
               for record in regions for r in record["regions"])
    assert any(i["coco_id"] is None for i in sample["image_data"])
    assert max(len(record["regions"]) for record in regions) >= 45

    # attributes.json (v1.2) has its own object list: mostly the same ids, not one-to-one
    objects = {record["image_id"]: {o["object_id"] for o in record["objects"]} for record in sample["objects"]}
    shared = missing = extra = 0
    for record in sample["attributes"]:
        ids = {a["object_id"] for a in record["attributes"]}
        shared += len(ids & objects[record["image_id"]])
        missing += len(objects[record["image_id"]] - ids)
        extra += len(ids - objects[record["image_id"]])
    assert missing and extra and shared > 4 * (missing + extra)


def test_sample_scenes_are_rich_enough_for_generation(sample):
    assert len(sample["image_data"]) >= 14
    assert len({(i["width"], i["height"]) for i in sample["image_data"]}) >= 5
    attributes = {r["image_id"]: r["attributes"] for r in sample["attributes"]}
    relationships = {r["image_id"]: r["relationships"] for r in sample["relationships"]}
    regions = {r["id"]: r["regions"] for r in sample["region_descriptions"]}
    for record in sample["objects"]:
        image_id, objects = record["image_id"], record["objects"]
        assert 15 <= len(objects) <= 40
        assert all(o["synsets"] and "." in o["synsets"][0] for o in objects)
        assert 8 <= sum(bool(a.get("attributes")) for a in attributes[image_id]) <= 25
        assert 10 <= len(relationships[image_id]) <= 25
        assert 15 <= len(regions[image_id]) <= 50
        ids = {o["object_id"] for o in objects}
        assert all(r[side]["object_id"] in ids for r in relationships[image_id] for side in ("subject", "object"))
    counted = Counter((record["image_id"], o["names"][0]) for record in sample["objects"] for o in record["objects"])
    assert sum(n >= 3 for n in counted.values()) >= 3  # counting questions need repeated categories


def test_sample_ids_are_globally_unique(sample):
    for what, ids in {
        "object": [o["object_id"] for r in sample["objects"] for o in r["objects"]],
        "relationship": [x["relationship_id"] for r in sample["relationships"] for x in r["relationships"]],
        "region": [x["region_id"] for r in sample["region_descriptions"] for x in r["regions"]],
        "image": [i["image_id"] for i in sample["image_data"]],
        "caption": [c["id"] for c in sample["captions_train2017"]["annotations"]],
        "instance": [a["id"] for a in sample["instances_train2017"]["annotations"]],
    }.items():
        assert len(ids) == len(set(ids)), what


def test_sample_joins_vg_to_coco(sample):
    coco_ids = {i["coco_id"] for i in sample["image_data"] if i["coco_id"] is not None}
    captions = Counter(c["image_id"] for c in sample["captions_train2017"]["annotations"])
    instances = Counter(a["image_id"] for a in sample["instances_train2017"]["annotations"])
    assert len(coco_ids) >= 8
    assert all(captions[c] == 5 and instances[c] >= 1 for c in coco_ids)
    assert set(captions) | set(instances) <= coco_ids
    for name in COCO_FILES:
        assert {i["id"] for i in sample[name]["images"]} == coco_ids


def test_sample_coco_masks_decode_to_the_image_size(sample):
    instances = sample["instances_train2017"]
    images = {i["id"]: i for i in instances["images"]}
    categories = {c["id"]: c["name"] for c in instances["categories"]}
    assert len(categories) == 80 and categories[1] == "person" and categories[90] == "toothbrush"
    kinds = Counter()
    for ann in instances["annotations"]:
        image = images[ann["image_id"]]
        seg = ann["segmentation"]
        kind = "polygon" if isinstance(seg, list) else "rle" if isinstance(seg["counts"], list) else "compressed"
        kinds[kind] += 1
        assert (kind == "polygon") == (ann["iscrowd"] == 0)
        assert ann["category_id"] in categories
        mask = decode(seg, image["height"], image["width"])
        assert mask.shape == (image["height"], image["width"])
        assert mask.any()
        if kind != "polygon":
            assert seg["size"] == [image["height"], image["width"]]
            assert int(mask.sum()) == ann["area"]
    assert kinds["polygon"] and kinds["rle"] and kinds["compressed"]


def test_sample_matches_its_authoring_script(sample_dir: Path, monkeypatch):
    spec = importlib.util.spec_from_file_location("build_sample", sample_dir / "build_sample.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "build_sample", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    vg, coco, _ = module.build()
    for folder, files in (("visual_genome", vg), ("coco", coco)):
        for name, data in files.items():
            assert (sample_dir / folder / f"{name}.json").read_text() == json.dumps(data), name


# --- synthetic data ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_200(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "a"
    return out, write_synthetic(out, 200, seed=7)


def file_bytes(root: Path) -> dict[str, bytes]:
    return {f"{folder}/{name}.json": (root / folder / f"{name}.json").read_bytes()
            for folder, names in (("visual_genome", VG_FILES), ("coco", COCO_FILES)) for name in names}


def test_synth_files_parse_with_realistic_counts(synth_200):
    out, summary = synth_200
    data = load_all(out)
    assert sorted(p.name for p in out.iterdir()) == ["coco", "visual_genome"]
    assert summary["images"] == len(data["image_data"]) == 200
    per_image = {
        "objects": [len(r["objects"]) for r in data["objects"]],
        "regions": [len(r["regions"]) for r in data["region_descriptions"]],
        "relationships": [len(r["relationships"]) for r in data["relationships"]],
        "attributes": [sum(bool(a.get("attributes")) for a in r["attributes"]) for r in data["attributes"]],
    }
    for what, (low, high) in {"objects": (28, 42), "regions": (42, 58), "relationships": (17, 28),
                              "attributes": (16, 28)}.items():
        assert low <= np.mean(per_image[what]) <= high, what
        assert np.std(per_image[what]) > 3, what  # counts vary per image
        assert summary[what] == sum(per_image[what])
    assert all(3 <= n <= 85 for n in per_image["objects"])
    for name, size in summary["bytes"].items():
        assert (out / name).stat().st_size == size

    ids = [r["image_id"] for r in data["objects"]]
    assert ids == [r["id"] for r in data["region_descriptions"]] == [r["image_id"] for r in data["relationships"]]
    object_ids = [o["object_id"] for r in data["objects"] for o in r["objects"]]
    assert len(object_ids) == len(set(object_ids))


def test_synth_coco_half_of_the_images_with_captions_and_masks(synth_200):
    out, summary = synth_200
    data = load_all(out)
    coco_ids = {i["coco_id"] for i in data["image_data"] if i["coco_id"] is not None}
    assert 0.35 <= len(coco_ids) / 200 <= 0.65
    captions = Counter(c["image_id"] for c in data["captions_train2017"]["annotations"])
    assert set(captions) == coco_ids and set(captions.values()) == {5}
    instances = data["instances_train2017"]
    assert {i["id"] for i in instances["images"]} == coco_ids
    assert {a["image_id"] for a in instances["annotations"]} <= coco_ids
    assert len(instances["annotations"]) == summary["instances"] > len(coco_ids)
    images = {i["id"]: i for i in instances["images"]}
    crowd = [a for a in instances["annotations"] if a["iscrowd"]]
    assert 0 < len(crowd) < len(instances["annotations"]) / 10
    for ann in instances["annotations"]:
        image = images[ann["image_id"]]
        mask = decode(ann["segmentation"], image["height"], image["width"])
        assert mask.shape == (image["height"], image["width"])
        if ann["iscrowd"]:
            assert int(mask.sum()) == ann["area"]
            assert np.allclose(mask_utils.toBbox(mask_utils.encode(np.asfortranarray(mask))), ann["bbox"])


def test_synth_carries_the_quirks_at_low_rates(synth_200):
    out, _ = synth_200
    data = load_all(out)
    sizes = {i["image_id"]: (i["width"], i["height"]) for i in data["image_data"]}
    sides = [r[side] for rec in data["relationships"] for r in rec["relationships"] for side in ("subject", "object")]
    with_names = sum("names" in s for s in sides)
    assert 0 < with_names < len(sides) / 4
    predicates = Counter(r["predicate"] for rec in data["relationships"] for r in rec["relationships"])
    assert predicates["ON"] and predicates["on"] and predicates["WEARING"] and predicates["on top of"]
    phrases = [r["phrase"] for rec in data["region_descriptions"] for r in rec["regions"]]
    assert 0 < sum(p.endswith(" ") for p in phrases) < len(phrases) / 10
    states = Counter(box_state(o, *sizes[rec["image_id"]]) for rec in data["objects"] for o in rec["objects"])
    assert 0 < states["partly outside"] < states["inside"] / 50


def test_synth_is_deterministic_for_a_seed_and_any_worker_count(synth_200, tmp_path):
    out, summary = synth_200
    again = write_synthetic(tmp_path / "b", 200, seed=7, workers=2)
    assert again["workers"] == 2
    assert file_bytes(out) == file_bytes(tmp_path / "b")
    assert {k: v for k, v in again.items() if k not in ("seconds", "workers")} == {
        k: v for k, v in summary.items() if k not in ("seconds", "workers")
    }
    write_synthetic(tmp_path / "c", 200, seed=8)
    assert file_bytes(tmp_path / "c")["visual_genome/objects.json"] != file_bytes(out)["visual_genome/objects.json"]

"""Source discovery: plain files, official zip downloads, several COCO splits, missing files."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pyarrow.dataset as pa_ds
import pytest

from svit_assets.home import Home
from svit_assets.ingest.sources import AnnotationSources, MissingSourceError
from svit_assets.ingest.staging import stage_all


def test_discover_fixtures(vg_fixtures: Path) -> None:
    sources = AnnotationSources.discover(vg_fixtures)
    assert sources.missing == ()
    assert [f.name for f in sources.get("regions")] == ["visual_genome/region_descriptions.json"]
    assert [f.name for f in sources.get("coco_instances")] == ["coco/instances_train2014.json"]
    assert sources.has_coco


def test_missing_optional_files_are_listed(tmp_path: Path, ann) -> None:
    root = ann.write(tmp_path / "ann", image_data=[ann.image(1)], objects=[])
    sources = AnnotationSources.discover(root)
    assert set(sources.missing) == {
        "visual_genome/attributes.json",
        "visual_genome/relationships.json",
        "visual_genome/region_descriptions.json",
        "coco/captions_*.json",
        "coco/instances_*.json",
    }
    assert not sources.has_coco and sources.get("relationships") == ()


def test_missing_image_data_is_a_clear_error(tmp_path: Path, ann) -> None:
    root = ann.write(tmp_path / "ann", objects=[])
    with pytest.raises(MissingSourceError, match=r"visual_genome/image_data\.json"):
        AnnotationSources.discover(root)


def test_zip_downloads_stage_like_plain_files(tmp_path: Path, vg_sample: Path) -> None:
    zipped = tmp_path / "zipped"
    (zipped / "visual_genome").mkdir(parents=True)
    (zipped / "coco").mkdir()
    for n, path in enumerate(sorted((vg_sample / "visual_genome").glob("*.json"))):
        suffix = ".json.zip" if n % 2 else ".zip"
        with zipfile.ZipFile(
            zipped / "visual_genome" / f"{path.stem}{suffix}", "w", zipfile.ZIP_DEFLATED
        ) as zf:
            zf.write(path, path.name)
    with zipfile.ZipFile(zipped / "coco" / "annotations_trainval2017.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for path in (vg_sample / "coco").glob("*.json"):
            zf.write(path, f"annotations/{path.name}")
    # a second COCO split beside the archive
    shutil.copy(vg_sample / "coco" / "captions_train2017.json", zipped / "coco" / "captions_val2017.json")
    sources = AnnotationSources.discover(zipped)
    assert sources.missing == ()
    assert sources.get("objects")[0].member == "objects.json"
    assert sorted(f.name for f in sources.get("coco_captions")) == [
        "coco/annotations_trainval2017.zip:annotations/captions_train2017.json",
        "coco/captions_val2017.json",
    ]
    plain, packed = Home(tmp_path / "plain"), Home(tmp_path / "packed")
    expected = stage_all(plain, AnnotationSources.discover(vg_sample), workers=1)
    got = stage_all(packed, sources, workers=1)
    for table in ("images", "objects", "attributes", "relationships", "regions", "coco_instances"):
        assert (got[table].read, got[table].accepted, got[table].quarantined) == (
            expected[table].read,
            expected[table].accepted,
            expected[table].quarantined,
        )
        a = pa_ds.dataset(plain.staging / table, format="parquet").to_table()
        b = pa_ds.dataset(packed.staging / table, format="parquet").to_table()
        if "source_file" in a.column_names:
            a, b = a.drop_columns(["source_file"]), b.drop_columns(["source_file"])
        assert a.equals(b)
    # the same captions in two splits: each split's rows are staged, ids repeat only across files
    assert got["coco_captions"].accepted == 2 * expected["coco_captions"].accepted

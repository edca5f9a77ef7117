"""Stage one annotation source kind into normalised Parquet plus quarantine rows, in bounded memory.

One generic mechanism driven by a :class:`StageSpec` per kind: stream windows of JSON elements
(`jsonstream`), explode the per-image record lists with Arrow kernels, validate and normalise whole columns
with numpy, and append each window, sorted by image id, as row groups of Parquet parts in a fresh folder that
replaces the table's folder atomically (a symlink swap) when the stage completes. Python handles individual
records only when the C parser refused their element (wrong types, NaN literals, invalid UTF-8, COCO RLE).

Quarantine reasons (stable codes): `missing_field`, `wrong_type`, `invalid_utf8`, `nan` (NaN or infinite),
`negative_size`, `zero_size` (an image), `degenerate_box` (zero width or height), `box_outside_image`,
`unknown_image`, `unknown_category`, `duplicate_id`. Boxes that merely overhang the image are clipped,
counted and flagged `clipped`. Every stage reconciles: `read == accepted + quarantined`.

COCO records are staged under the VG image that owns their `coco_id` (so the per-batch join prunes them by
image id like the VG tables), but arrive in annotation-id order, and their file's `categories` (and possibly
`images`) come after them: they are streamed into buckets by owner image, then each bucket is sorted, joined
to its file's images and categories, and validated by the same column code.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from svit_assets.home import Home
from svit_assets.ingest.jsonstream import DEFAULT_CHUNK_BYTES, ParsedChunk, stream_array, stream_object
from svit_assets.ingest.sources import AnnotationSources, SourceFile
from svit_assets.warehouse import QUARANTINE_SCHEMA, ROW_GROUP_ROWS, write_quarantine

_RAW_SNIPPET = 400
_FREE_TEXT = {
    "phrase",
    "caption",
    "url",
    "rle_counts",
    "file_name",
}  # too many distinct values for a dictionary
_PRUNE_KEYS = ("image_id", "coco_id")  # the only statistics readers filter on
PART_ROWS = 1 << 20
_BUCKET_ROWS = 1 << 18  # rows per bucket when sorting out of core
_BUCKET_BYTES = 2 << 20  # COCO source bytes per bucket, sorted and validated whole (8 MiB: +30 MiB peak)
# Below this much JSON, stage_all stages in one process: a worker costs ~110 MiB of imports and library pages
# before it holds any data, far more than the working set, and at 10% scale (250 MB) two processes were no
# faster than one (8.9 s either way).
POOL_MIN_BYTES = 1 << 30
# A window's parse and normalisation hold several copies of it (raw, one-line, parsed and staged columns):
# measured peak above imports ~25 MiB with 1 MiB windows against ~55 MiB with 4 MiB, for ~10% more time.
SMALL_CHUNK_BYTES = 1 << 20

_STR = pa.string()
_F64 = pa.float64()
_I64 = pa.int64()
_STRS = pa.list_(pa.string())
_BOX = [("x", _F64), ("y", _F64), ("w", _F64), ("h", _F64)]
_VG_OBJECT = [("object_id", _I64), ("name", _STR), ("names", _STRS), ("synsets", _STRS), *_BOX]


# --------------------------------------------------------------------------------------------------------
# reports


@dataclass
class StageReport:
    table: str
    source_files: list[str] = field(default_factory=list)
    bytes: int = 0
    elements: int = 0
    read: int = 0
    accepted: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    clipped: int = 0
    parts: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def reconciles(self) -> bool:
        return self.read == self.accepted + self.quarantined_total

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "quarantined_total": self.quarantined_total,
            "mb_per_s": round(self.mb_per_s, 1),
        }


# --------------------------------------------------------------------------------------------------------
# column helpers


class _Verdict:
    """First failing check per row: code 0 is accepted, otherwise an index into `reasons`."""

    def __init__(self, n: int):
        self.code = np.zeros(n, np.int16)
        self.reasons: list[tuple[str, str]] = [("", "")]

    def flag(self, mask: np.ndarray, reason: str, detail: str) -> None:
        mask = np.asarray(mask, bool) & (self.code == 0)
        if mask.any():
            self.reasons.append((reason, detail))
            self.code[mask] = len(self.reasons) - 1

    @property
    def ok(self) -> np.ndarray:
        return self.code == 0


def _nulls(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(col.is_null(), bool)


def _floats(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(col, _F64).to_numpy(zero_copy_only=False), np.float64)


def _ints(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(col, 0).to_numpy(zero_copy_only=False), np.int64)


def _text(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Stripped strings, empty ones as null."""
    stripped = pc.utf8_trim_whitespace(col)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, _STR), stripped)


def _first(lists: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The first element of each list (null for null or empty lists)."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    lengths = np.asarray(pc.fill_null(pc.list_value_length(lists), 0), np.int64)
    starts = np.cumsum(lengths) - lengths
    return pc.list_flatten(lists).take(pa.array(starts, mask=lengths == 0))


def _clean_list(lists: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Strip every string of a list<string> column; null lists become empty lists."""
    lists = _lists(lists)
    return pa.ListArray.from_arrays(lists.offsets, pc.utf8_trim_whitespace(lists.values), type=_STRS)


def _check_box(
    v: _Verdict,
    rec: pa.Table,
    names: tuple[str, str, str, str],
    width: np.ndarray,
    height: np.ndarray,
    label: str,
) -> tuple[np.ndarray, ...]:
    """Validate one box per row against its image size; returns the clipped x, y, w, h and the clip flag."""
    cols = [rec.column(n) for n in names]
    x, y, w, h = (_floats(c) for c in cols)
    v.flag(np.logical_or.reduce([_nulls(c) for c in cols]), "missing_field", f"{label} x/y/w/h missing")
    with np.errstate(invalid="ignore"):
        v.flag(~np.isfinite(x + y + w + h), "nan", f"{label} has NaN or infinite coordinates")
        v.flag((w < 0) | (h < 0), "negative_size", f"{label} has a negative width or height")
        v.flag((w == 0) | (h == 0), "degenerate_box", f"{label} has zero width or height")
        x1, y1 = np.maximum(x, 0.0), np.maximum(y, 0.0)
        x2, y2 = np.minimum(x + w, width), np.minimum(y + h, height)
        v.flag(~((x2 > x1) & (y2 > y1)), "box_outside_image", f"{label} lies entirely outside the image")
        clip_x, clip_y = (x1 != x) | (x2 != x + w), (y1 != y) | (y2 != y + h)
    # unclipped sizes are kept as given: x2 - x1 would add float noise (97.64 -> 97.64000000000001)
    return x1, y1, np.where(clip_x, x2 - x1, w), np.where(clip_y, y2 - y1, h), clip_x | clip_y


def _require(v: _Verdict, rec: pa.Table, *names: str) -> None:
    for name in names:
        v.flag(_nulls(rec.column(name)), "missing_field", f"{name} missing")


# --------------------------------------------------------------------------------------------------------
# lookups


class ImageIndex:
    """Sizes and COCO ids of the staged VG images as sorted numpy arrays (cheap for ~10^5 images)."""

    def __init__(self, ids: np.ndarray, width: np.ndarray, height: np.ndarray, coco: np.ndarray):
        order = np.argsort(ids, kind="stable")
        self.ids, self.width, self.height, self.coco = ids[order], width[order], height[order], coco[order]

    @classmethod
    def load(cls, home: Home) -> ImageIndex:
        folder = home.staging / "images"
        if not folder.is_dir():
            raise FileNotFoundError(f"stage images first: no staged images under {folder}")
        parts = sorted(folder.glob("*.parquet"))
        if not parts:  # every image was quarantined
            return cls(*(np.zeros(0, t) for t in (np.int64, np.float64, np.float64, np.int64)))
        # ParquetFile, not pyarrow.dataset: importing the dataset module alone costs ~5 MiB of RSS per process
        columns = ["image_id", "width", "height", "coco_id"]
        table = pa.concat_tables(pq.ParquetFile(p).read(columns=columns) for p in parts)
        return cls(
            _ints(table["image_id"]),
            _floats(table["width"]),
            _floats(table["height"]),
            np.asarray(pc.fill_null(table["coco_id"], -1), np.int64),
        )

    def sizes(self, image_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(found, width, height) per image id; NaN sizes for unknown images."""
        if not self.ids.size:
            unknown = np.full(image_ids.size, np.nan)
            return np.zeros(image_ids.size, bool), unknown, unknown
        at = np.minimum(np.searchsorted(self.ids, image_ids), self.ids.size - 1)
        found = self.ids[at] == image_ids
        return found, np.where(found, self.width[at], np.nan), np.where(found, self.height[at], np.nan)

    def coco_owners(self) -> pa.Table:
        """coco_id -> the VG image that owns its COCO rows (the smallest image id naming it)."""
        has = self.coco >= 0
        table = pa.table({"coco_id": self.coco[has], "image_id": self.ids[has]})
        return (
            table.group_by("coco_id").aggregate([("image_id", "min")]).rename_columns(["coco_id", "image_id"])
        )


# --------------------------------------------------------------------------------------------------------
# normalisers: (records, lookup) -> (staged columns for every row, verdict)

Normalized = tuple[dict[str, Any], _Verdict]


def _vg_sizes(rec: pa.Table, index: ImageIndex, v: _Verdict) -> tuple[np.ndarray, np.ndarray]:
    _require(v, rec, "_image")
    found, width, height = index.sizes(_ints(rec["_image"]))
    v.flag(~found, "unknown_image", "image_id not in image_data")
    return width, height


def _normalize_images(rec: pa.Table, _: Any) -> Normalized:
    v = _Verdict(rec.num_rows)
    _require(v, rec, "_image", "width", "height")
    width, height = _ints(rec["width"]), _ints(rec["height"])
    v.flag((width < 0) | (height < 0), "negative_size", "negative width or height")
    v.flag((width == 0) | (height == 0), "zero_size", "zero width or height")
    big = np.iinfo(np.int32).max
    v.flag((width > big) | (height > big), "wrong_type", "width or height exceeds int32")
    cols = {
        "image_id": rec["_image"],
        "width": pa.array(np.clip(width, 0, big).astype(np.int32)),
        "height": pa.array(np.clip(height, 0, big).astype(np.int32)),
        "coco_id": rec["coco_id"],
        "flickr_id": rec["flickr_id"],
        "url": rec["url"],
    }
    return cols, v


def _object_columns(rec: pa.Table, index: ImageIndex, v: _Verdict) -> dict[str, Any]:
    _require(v, rec, "object_id")
    width, height = _vg_sizes(rec, index, v)
    name = pc.coalesce(_text(_first(rec["names"])), _text(rec["name"]))
    v.flag(_nulls(name), "missing_field", "no name or names")
    x, y, w, h, clipped = _check_box(v, rec, ("x", "y", "w", "h"), width, height, "box")
    return {
        "image_id": rec["_image"],
        "object_id": rec["object_id"],
        "name": name,
        "names": _clean_list(rec["names"]),
        "synsets": _clean_list(rec["synsets"]),
        "x": x,
        "y": y,
        "w": w,
        "h": h,
        "clipped": clipped,
    }


def _normalize_objects(rec: pa.Table, index: ImageIndex) -> Normalized:
    v = _Verdict(rec.num_rows)
    return _object_columns(rec, index, v), v


def _normalize_attributes(rec: pa.Table, index: ImageIndex) -> Normalized:
    v = _Verdict(rec.num_rows)
    cols = _object_columns(rec, index, v)
    cols["attributes"] = _clean_list(rec["attributes"])
    return cols, v


def _normalize_relationships(rec: pa.Table, index: ImageIndex) -> Normalized:
    v = _Verdict(rec.num_rows)
    _require(v, rec, "relationship_id")
    width, height = _vg_sizes(rec, index, v)
    predicate = _text(
        pc.replace_substring_regex(pc.utf8_lower(rec["predicate"]), pattern=r"\s+", replacement=" ")
    )
    v.flag(_nulls(predicate), "missing_field", "predicate missing or empty")
    cols: dict[str, Any] = {
        "image_id": rec["_image"],
        "relationship_id": rec["relationship_id"],
        "predicate": predicate,
        "predicate_raw": rec["predicate"],
        "synsets": _clean_list(rec["synsets"]),
    }
    clipped = np.zeros(rec.num_rows, bool)
    for role in ("subject", "object"):
        part = rec[role].combine_chunks()
        v.flag(_nulls(part), "missing_field", f"{role} missing")
        sub = pa.Table.from_arrays(part.flatten(), names=[f.name for f in part.type])
        _require(v, sub, "object_id")
        name = pc.coalesce(_text(_first(sub["names"])), _text(sub["name"]))
        v.flag(_nulls(name), "missing_field", f"{role} has no name or names")
        x, y, w, h, role_clipped = _check_box(v, sub, ("x", "y", "w", "h"), width, height, f"{role} box")
        clipped |= role_clipped
        cols |= {f"{role}_id": sub["object_id"], f"{role}_name": name}
        cols |= {f"{role}_x": x, f"{role}_y": y, f"{role}_w": w, f"{role}_h": h}
    cols["clipped"] = clipped
    return cols, v


def _normalize_regions(rec: pa.Table, index: ImageIndex) -> Normalized:
    v = _Verdict(rec.num_rows)
    _require(v, rec, "region_id")
    width, height = _vg_sizes(rec, index, v)
    phrase = _text(rec["phrase"])
    v.flag(_nulls(phrase), "missing_field", "phrase missing or empty")
    x, y, w, h, clipped = _check_box(v, rec, ("x", "y", "width", "height"), width, height, "box")
    cols = {"image_id": rec["_image"], "region_id": rec["region_id"], "phrase": phrase}
    return cols | {"x": x, "y": y, "w": w, "h": h, "clipped": clipped}, v


def _coco_common(rec: pa.Table, v: _Verdict) -> dict[str, Any]:
    """Checks on the columns `_CocoLookup.join` adds: `_w`/`_h` are null when the file lacks the image."""
    _require(v, rec, "_image", "id")
    v.flag(_nulls(rec["_w"]), "unknown_image", "image_id not in this file's images")
    return {"coco_id": rec["_image"], "source_file": rec["_file"], "image_id": rec["_vg"]}


def _normalize_captions(rec: pa.Table, _: Any) -> Normalized:
    v = _Verdict(rec.num_rows)
    common = _coco_common(rec, v)
    caption = _text(rec["caption"])
    v.flag(_nulls(caption), "missing_field", "caption missing or empty")
    v.flag(np.asarray(rec["_dup"], bool), "duplicate_id", "caption id seen before in this file")
    cols = {"coco_id": common["coco_id"], "caption_id": rec["id"], "caption": caption}
    return cols | {"source_file": common["source_file"], "image_id": common["image_id"]}, v


def _normalize_instances(rec: pa.Table, _: Any) -> Normalized:
    v = _Verdict(rec.num_rows)
    common = _coco_common(rec, v)
    _require(v, rec, "category_id", "bbox")
    v.flag(_nulls(rec["_category"]), "unknown_category", "category_id not in this file's categories")
    bbox = _lists(rec["bbox"])
    lengths = np.diff(np.asarray(bbox.offsets, np.int64))
    v.flag(~_nulls(rec["bbox"]) & (lengths != 4), "wrong_type", "bbox is not [x, y, w, h]")
    xywh = np.full((rec.num_rows, 4), np.nan)
    four = lengths == 4
    xywh[four] = _floats(bbox.values)[(np.asarray(bbox.offsets, np.int64)[:-1][four])[:, None] + np.arange(4)]
    polygons = rec["segmentation"].combine_chunks()
    rings = pc.list_flatten(polygons)
    values = _floats(pc.list_flatten(rings))
    ring_row = np.asarray(pc.list_parent_indices(polygons), np.int64)
    value_row = ring_row[np.asarray(pc.list_parent_indices(rings), np.int64)]
    bad = np.zeros(rec.num_rows, bool)
    bad[value_row[~np.isfinite(values)]] = True
    area = _floats(rec["area"])
    bad |= ~_nulls(rec["area"]) & ~np.isfinite(area)
    v.flag(bad, "nan", "NaN or infinite area or polygon coordinate")
    box = pa.table({"x": xywh[:, 0], "y": xywh[:, 1], "w": xywh[:, 2], "h": xywh[:, 3]})
    x, y, w, h, clipped = _check_box(
        v, box, ("x", "y", "w", "h"), _floats(rec["_w"]), _floats(rec["_h"]), "bbox"
    )
    v.flag(np.asarray(rec["_dup"], bool), "duplicate_id", "annotation id seen before in this file")
    is_rle = ~_nulls(rec["rle_counts"])
    cols = {
        "coco_id": common["coco_id"],
        "annotation_id": rec["id"],
        "category_id": rec["category_id"],
        "category": rec["_category"],
        "supercategory": rec["_supercategory"],
        "x": x,
        "y": y,
        "w": w,
        "h": h,
        "iscrowd": pc.not_equal(pc.fill_null(rec["iscrowd"], 0), 0),
        "area": rec["area"],
        "segmentation_kind": pa.array(np.where(is_rle, "rle", "polygon")),
        "polygons": _null_where(polygons, is_rle),
        "rle_counts": rec["rle_counts"],
        "rle_size": rec["rle_size"],
        "clipped": clipped,
        "source_file": common["source_file"],
        "image_id": common["image_id"],
    }
    return cols, v


def _null_where(array: pa.Array, mask: np.ndarray) -> pa.Array:
    """`array` with the rows under `mask` set to null (works for nested types)."""
    if not mask.any():
        return array
    return array.take(pa.array(np.arange(len(array)), mask=mask))


def _normalize_coco_images(rec: pa.Table, _: Any) -> Normalized:
    v = _Verdict(rec.num_rows)
    _require(v, rec, "id", "width", "height")
    width, height = _ints(rec["width"]), _ints(rec["height"])
    v.flag((width < 0) | (height < 0), "negative_size", "negative width or height")
    v.flag((width == 0) | (height == 0), "zero_size", "zero width or height")
    v.flag(np.asarray(rec["_dup"], bool), "duplicate_id", "image id seen before in this file")
    cols = {
        "coco_id": rec["id"],
        "width": pc.cast(rec["width"], pa.int32(), safe=False),
        "height": pc.cast(rec["height"], pa.int32(), safe=False),
        "file_name": rec["file_name"],
        "source_file": rec["_file"],
        "image_id": rec["_vg"],
    }
    return cols, v


def _rle_prepare(record: dict[str, Any]) -> dict[str, Any]:
    """COCO segmentation as polygons or RLE; RLE counts always end up in the compressed string form."""
    seg = record.get("segmentation")
    if not isinstance(seg, dict):
        return record
    from pycocotools import mask as mask_utils

    counts, size = seg.get("counts"), seg.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(type(s) is int for s in size)):
        raise _Reject("wrong_type", "segmentation.size is not [h, w]")
    if isinstance(counts, list):
        values = np.asarray(counts)
        if values.dtype.kind not in "iu" or (values.size and values.min() < 0):
            raise _Reject("wrong_type", "segmentation.counts is not a list of non-negative integers")
        counts = mask_utils.frPyObjects({"counts": counts, "size": size}, *size)["counts"].decode("ascii")
    elif not isinstance(counts, str):
        raise _Reject("wrong_type", "segmentation.counts is neither a list nor a string")
    return {**record, "segmentation": None, "rle_counts": counts, "rle_size": size}


# --------------------------------------------------------------------------------------------------------
# specs


@dataclass(frozen=True)
class StageSpec:
    table: str
    record_kind: str
    element: pa.Schema  # what the C parser reads from one array element
    normalize: Callable[[pa.Table, Any], Normalized]
    output: pa.Schema  # the staged table
    records: str | None = None  # list field holding the records inside an element (VG), None: element is one
    image_key: tuple[str, ...] = ("image_id",)  # fields naming the image (first non-null wins)
    record_id: str = "id"
    key: str | None = None  # COCO: the top-level key holding the records
    slow_marker: bytes | None = None  # elements containing these bytes always take the Python path
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    @property
    def record_type(self) -> pa.StructType:
        if self.records is None:
            return pa.struct(list(self.element))
        return self.element.field(self.records).type.value_type


def _out(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(n, t) for n, t in fields])


_OBJECT_OUT = [("image_id", _I64), ("object_id", _I64), ("name", _STR), ("names", _STRS), ("synsets", _STRS)]
_OBJECT_BOX_OUT = [*_BOX, ("clipped", pa.bool_())]
_SUBJECT = pa.struct([("object_id", _I64), ("name", _STR), ("names", _STRS), *_BOX])
_COCO_IMAGE_RECORD = pa.struct([("id", _I64), ("width", _I64), ("height", _I64), ("file_name", _STR)])
_CATEGORY = pa.struct([("id", _I64), ("name", _STR), ("supercategory", _STR)])

SPECS: dict[str, StageSpec] = {
    "images": StageSpec(
        "images",
        "image",
        pa.schema(
            [
                ("image_id", _I64),
                ("id", _I64),
                ("width", _I64),
                ("height", _I64),
                ("coco_id", _I64),
                ("flickr_id", _I64),
                ("url", _STR),
            ]
        ),
        _normalize_images,
        _out(
            ("image_id", _I64),
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("coco_id", _I64),
            ("flickr_id", _I64),
            ("url", _STR),
        ),
        image_key=("image_id", "id"),
        record_id="_image",
    ),
    "objects": StageSpec(
        "objects",
        "object",
        pa.schema([("image_id", _I64), ("objects", pa.list_(pa.struct(_VG_OBJECT)))]),
        _normalize_objects,
        _out(*_OBJECT_OUT, *_OBJECT_BOX_OUT, ("attributes", _STRS)),
        records="objects",
        record_id="object_id",
    ),
    "attributes": StageSpec(
        "attributes",
        "object",
        pa.schema(
            [("image_id", _I64), ("attributes", pa.list_(pa.struct([*_VG_OBJECT, ("attributes", _STRS)])))]
        ),
        _normalize_attributes,
        _out(*_OBJECT_OUT, ("attributes", _STRS), *_OBJECT_BOX_OUT),
        records="attributes",
        record_id="object_id",
    ),
    "relationships": StageSpec(
        "relationships",
        "relationship",
        pa.schema(
            [
                ("image_id", _I64),
                (
                    "relationships",
                    pa.list_(
                        pa.struct(
                            [
                                ("relationship_id", _I64),
                                ("predicate", _STR),
                                ("synsets", _STRS),
                                ("subject", _SUBJECT),
                                ("object", _SUBJECT),
                            ]
                        )
                    ),
                ),
            ]
        ),
        _normalize_relationships,
        _out(
            ("image_id", _I64),
            ("relationship_id", _I64),
            ("predicate", _STR),
            ("predicate_raw", _STR),
            ("synsets", _STRS),
            ("subject_id", _I64),
            ("subject_name", _STR),
            ("object_id", _I64),
            ("object_name", _STR),
            *[(f"{role}_{c}", _F64) for role in ("subject", "object") for c in "xywh"],
            ("clipped", pa.bool_()),
        ),
        records="relationships",
        record_id="relationship_id",
    ),
    "regions": StageSpec(
        "regions",
        "region",
        pa.schema(
            [
                ("id", _I64),
                ("image_id", _I64),
                (
                    "regions",
                    pa.list_(
                        pa.struct(
                            [
                                ("region_id", _I64),
                                ("phrase", _STR),
                                ("x", _F64),
                                ("y", _F64),
                                ("width", _F64),
                                ("height", _F64),
                            ]
                        )
                    ),
                ),
            ]
        ),
        _normalize_regions,
        _out(("image_id", _I64), ("region_id", _I64), ("phrase", _STR), *_OBJECT_BOX_OUT),
        records="regions",
        image_key=("id", "image_id"),
        record_id="region_id",
    ),
    "coco_captions": StageSpec(
        "coco_captions",
        "caption",
        pa.schema([("image_id", _I64), ("id", _I64), ("caption", _STR)]),
        _normalize_captions,
        _out(
            ("coco_id", _I64),
            ("caption_id", _I64),
            ("caption", _STR),
            ("source_file", _STR),
            ("image_id", _I64),
        ),
        key="annotations",
    ),
    "coco_instances": StageSpec(
        "coco_instances",
        "instance",
        pa.schema(
            [
                ("id", _I64),
                ("image_id", _I64),
                ("category_id", _I64),
                ("bbox", pa.list_(_F64)),
                ("area", _F64),
                ("iscrowd", _I64),
                ("segmentation", pa.list_(pa.list_(_F64))),
                ("rle_counts", _STR),
                ("rle_size", pa.list_(pa.int32())),
            ]
        ),
        _normalize_instances,
        _out(
            ("coco_id", _I64),
            ("annotation_id", _I64),
            ("category_id", _I64),
            ("category", _STR),
            ("supercategory", _STR),
            *_BOX,
            ("iscrowd", pa.bool_()),
            ("area", _F64),
            ("segmentation_kind", _STR),
            ("polygons", pa.list_(pa.list_(_F64))),
            ("rle_counts", _STR),
            ("rle_size", pa.list_(pa.int32())),
            ("clipped", pa.bool_()),
            ("source_file", _STR),
            ("image_id", _I64),
        ),
        key="annotations",
        slow_marker=b'"counts"',
        prepare=_rle_prepare,
    ),
}

COCO_IMAGES_SPEC = StageSpec(
    "coco_images",
    "coco_image",
    pa.schema(list(_COCO_IMAGE_RECORD)),
    _normalize_coco_images,
    _out(
        ("coco_id", _I64),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("file_name", _STR),
        ("source_file", _STR),
        ("image_id", _I64),
    ),
    image_key=("id",),
    key="images",
)

# staged table -> tables it reads (objects merge the staged attributes, every table checks image sizes)
DEPENDS: dict[str, tuple[str, ...]] = {table: ("images",) for table in SPECS if table != "images"}
DEPENDS["images"] = ()
DEPENDS["objects"] = ("images", "attributes")


def coco_images_table(table: str) -> str:
    """The staged COCO images of a COCO stage (`coco_caption_images`, `coco_instance_images`)."""
    return {"coco_captions": "coco_caption_images", "coco_instances": "coco_instance_images"}[table]


# --------------------------------------------------------------------------------------------------------
# records: parsed windows -> one flat table per window


class _Reject(Exception):
    """A record (or, with `container`, a whole element) that cannot be staged."""

    def __init__(self, reason: str, detail: str, container: bool = False):
        super().__init__(detail)
        self.reason, self.detail, self.container = reason, detail, container


def _coerce(value: Any, typ: pa.DataType, path: str) -> Any:
    """Check a Python value against the Arrow type the C parser expected (the slow path's type checks)."""
    if value is None:
        return None
    if pa.types.is_integer(typ):
        if type(value) is int and -(2**63) <= value < 2**63:
            return value
        raise _Reject("wrong_type", f"{path}: expected an integer, got {_kind(value)}")
    if pa.types.is_floating(typ):
        if type(value) in (int, float):
            try:
                return float(value)
            except OverflowError:
                return float("inf")
        raise _Reject("wrong_type", f"{path}: expected a number, got {_kind(value)}")
    if pa.types.is_string(typ):
        if type(value) is not str:
            raise _Reject("wrong_type", f"{path}: expected a string, got {_kind(value)}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Reject("invalid_utf8", f"{path}: invalid UTF-8 bytes in a string") from None
        return value
    if pa.types.is_list(typ):
        if type(value) is not list:
            raise _Reject("wrong_type", f"{path}: expected a list, got {_kind(value)}")
        return [_coerce(item, typ.value_type, f"{path}[]") for item in value]
    if pa.types.is_struct(typ):
        if type(value) is not dict:
            raise _Reject("wrong_type", f"{path}: expected an object, got {_kind(value)}")
        return {
            f.name: _coerce(value.get(f.name), f.type, f"{path}.{f.name}" if path else f.name) for f in typ
        }
    raise TypeError(f"unsupported type {typ}")


def _kind(value: Any) -> str:
    return {
        dict: "object",
        list: "list",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
    }.get(type(value), type(value).__name__)


def _snippet(value: Any) -> str:
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    else:
        try:
            text = orjson.dumps(value, default=str).decode()
        except TypeError:
            text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= _RAW_SNIPPET else text[: _RAW_SNIPPET - 3] + "..."


class _Quarantine:
    """Quarantine rows of one stage, kept as small Arrow tables until the stage writes them once."""

    def __init__(self, stage: str):
        self.stage = stage
        self.tables: list[pa.Table] = []
        self.counts: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return self.counts.total()

    def add_rows(self, rows: list[dict[str, Any]], kind: str) -> None:
        if rows:
            for row in rows:
                row["stage"] = self.stage
                row.setdefault("record_kind", kind)
                self.counts[row["reason"]] += 1
            self.tables.append(pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA))

    def add_rejected(self, rec: pa.Table, verdict: _Verdict, source: str, record_id: str, kind: str) -> None:
        bad = np.flatnonzero(~verdict.ok)
        if not bad.size:
            return
        subset = rec.take(bad)
        visible = [n for n in subset.column_names if not n.startswith("_")]
        raws = [
            _snippet({k: v for k, v in r.items() if v is not None})
            for r in subset.select(visible).to_pylist()
        ]
        column = subset.column_names
        images = subset["_image"].to_pylist() if "_image" in column else [None] * bad.size
        ids = subset[record_id].to_pylist() if record_id in column else [None] * bad.size
        files = subset["_file"].to_pylist() if "_file" in column else [source] * bad.size
        rows = []
        for k, i in enumerate(bad):
            reason, detail = verdict.reasons[verdict.code[i]]
            record = None if ids[k] is None else str(ids[k])
            rows.append(
                {
                    "source_file": files[k],
                    "image_id": images[k],
                    "record_id": record,
                    "reason": reason,
                    "detail": detail,
                    "raw": raws[k],
                }
            )
        self.add_rows(rows, kind)

    def table(self) -> pa.Table:
        return pa.concat_tables(self.tables) if self.tables else QUARANTINE_SCHEMA.empty_table()


def _image_column(table: pa.Table, keys: tuple[str, ...]) -> pa.ChunkedArray:
    cols = [table[k] for k in keys if k in table.column_names]
    return pc.coalesce(*cols) if len(cols) > 1 else cols[0]


def _records(spec: StageSpec, chunk: ParsedChunk, source: str, quarantine: _Quarantine) -> pa.Table:
    """Records of one window as a flat table: the record fields, `_image` (the image the element names).
    Records of refused elements are type-checked one by one; failures go straight to quarantine."""
    rtype = spec.record_type
    table = chunk.table
    image = _image_column(table, spec.image_key).combine_chunks()
    if spec.records is None:
        fast = table.select([f.name for f in rtype]).append_column("_image", image)
    else:
        lists = table[spec.records].combine_chunks()
        missing = np.flatnonzero(_nulls(lists))
        if missing.size:
            quarantine.add_rows(
                [
                    {
                        "source_file": source,
                        "record_kind": "image",
                        "image_id": image[int(i)].as_py(),
                        "record_id": None,
                        "reason": "missing_field",
                        "detail": f"element has no '{spec.records}' list",
                        "raw": _snippet(table.slice(int(i), 1).to_pylist()[0]),
                    }
                    for i in missing
                ],
                spec.record_kind,
            )
        inner = pc.list_flatten(lists)
        fast = pa.Table.from_struct_array(inner) if len(inner) else pa.schema(list(rtype)).empty_table()
        fast = fast.append_column("_image", image.take(pc.list_parent_indices(lists)))
    if not chunk.slow:
        return fast
    rows, images = [], []
    for element in chunk.slow:
        for image_id, record, error in _slow_records(spec, element.value):
            if error is None:
                rows.append(record)
                images.append(image_id)
            else:
                rid = (
                    image_id
                    if spec.record_id == "_image"
                    else record.get(spec.record_id)
                    if type(record) is dict
                    else None
                )
                quarantine.add_rows(
                    [
                        {
                            "source_file": source,
                            "record_kind": "image" if error.container else spec.record_kind,
                            "image_id": image_id,
                            "record_id": None if rid is None else str(rid),
                            "reason": error.reason,
                            "detail": f"{error.detail} (element {element.index} at byte {element.offset})",
                            "raw": _snippet(record if record is not None else element.raw),
                        }
                    ],
                    spec.record_kind,
                )
    slow = (
        pa.Table.from_struct_array(pa.array(rows, type=rtype))
        if rows
        else pa.schema(list(rtype)).empty_table()
    )
    slow = slow.append_column("_image", pa.array(images, _I64))
    return pa.concat_tables([fast, slow])


def _slow_records(spec: StageSpec, value: Any) -> Iterator[tuple[int | None, Any, _Reject | None]]:
    """(image id, record, None) for each usable record of a refused element, (.., .., reject) otherwise."""
    if type(value) is not dict:
        yield (
            None,
            value,
            _Reject("wrong_type", f"element is {_kind(value)}, expected an object", container=True),
        )
        return
    image_id, image_error = None, None
    for key in spec.image_key:
        try:
            image_id = _coerce(value.get(key), _I64, key)
        except _Reject as err:
            image_error = err
        if image_id is not None:
            break
    if spec.records is None:
        records = [value]
    else:
        records = value.get(spec.records)
        if type(records) is not list:
            reason, what = ("missing_field", "missing") if records is None else ("wrong_type", _kind(records))
            yield image_id, value, _Reject(reason, f"'{spec.records}' is {what}", container=True)
            return
    for record in records:
        if image_error is not None and image_id is None:
            yield None, record, image_error
            continue
        try:
            prepared = spec.prepare(record) if spec.prepare and type(record) is dict else record
            yield image_id, _coerce(prepared, spec.record_type, ""), None
        except _Reject as err:
            yield image_id, record, err


# --------------------------------------------------------------------------------------------------------
# output folders


class _Output:
    """Parts of one staged table, written into a private folder that replaces the table folder at the end.

    Windows are appended to a part as row groups until it holds `PART_ROWS` rows: a few large files keep the
    per-batch readers' footer reads cheap while row groups stay small enough to prune by image id."""

    def __init__(self, home: Home, table: str, schema: pa.Schema):
        self.final = home.staging / table
        self.schema = schema
        self.tmp = home.staging / ".versions" / f"{table}.{uuid.uuid4().hex[:12]}"
        self.tmp.mkdir(parents=True)
        self.source = ""
        self.rows = 0
        self.parts: list[Path] = []
        self.ranges: list[tuple[int, int]] = []
        self.ids: list[np.ndarray] = []
        self.writer: pq.ParquetWriter | None = None
        self.part_rows = 0

    def write(self, table: pa.Table, id_column: str | None = None, sort: bool = True) -> None:
        """Append rows, sorted by image id unless the caller already sorted globally."""
        if not table.num_rows:
            return
        if sort:
            image = np.asarray(pc.fill_null(table["image_id"], np.iinfo(np.int64).max), np.int64)
            if image.size > 1 and not (np.diff(image) >= 0).all():
                order = np.argsort(image, kind="stable")
                table, image = table.take(order), image[order]
            self.ranges.append((int(image[0]), int(image[-1])))
        if id_column is not None:
            ids = _ints(table[id_column])
            small = ids.size and ids.min() >= -(2**31) and ids.max() < 2**31
            self.ids.append(ids.astype(np.int32) if small else ids)  # VG ids fit: half the memory at 5M rows
        if self.writer is None or self.part_rows >= PART_ROWS:
            self.close()
            self.parts.append(self.tmp / f"part-{len(self.parts):05d}.parquet")
            self.writer = _writer(self.parts[-1], table.schema)
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.part_rows += table.num_rows
        self.rows += table.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer, self.part_rows = None, 0

    @property
    def overlapping(self) -> bool:
        return any(a[1] > b[0] for a, b in zip(self.ranges, self.ranges[1:], strict=False))

    def sorted_ids(self) -> np.ndarray:
        """Every id written, sorted (the per-window arrays are released)."""
        ids = np.concatenate(self.ids) if self.ids else np.zeros(0, np.int64)
        self.ids = []
        ids.sort()
        return ids

    def publish(self) -> None:
        """Point `staging/<table>` at the new folder in one rename (readers never see a half-written table).
        A table without rows still gets one empty part, so readers see its columns."""
        if not self.parts:
            self.parts.append(self.tmp / "part-00000.parquet")
            self.writer = _writer(self.parts[-1], self.schema)
        self.close()
        previous = self.final.resolve() if self.final.is_symlink() else None
        if self.final.exists() and not self.final.is_symlink():
            shutil.rmtree(self.final)
        link = self.final.with_name(f".{self.final.name}.{uuid.uuid4().hex[:12]}.link")
        os.symlink(os.path.relpath(self.tmp, self.final.parent), link)
        os.replace(link, self.final)
        if previous is not None and previous != self.tmp.resolve():
            shutil.rmtree(previous, ignore_errors=True)

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _drop_duplicates(out: _Output, spec: StageSpec, duplicates: np.ndarray, quarantine: _Quarantine) -> int:
    """Rewrite the (rare) parts holding repeated ids, a row group at a time, keeping each id's first
    occurrence in staged order."""
    out.close()
    id_col = "image_id" if spec.record_id == "_image" else spec.record_id
    seen: set[int] = set()
    dropped = 0
    for path in out.parts:
        source = pq.ParquetFile(path)
        rewritten = path.with_suffix(".dedup")
        writer = _writer(rewritten, source.schema_arrow)
        for group in range(source.num_row_groups):
            table = source.read_row_group(group)
            ids = _ints(table[id_col])
            mask = np.zeros(table.num_rows, bool)
            for i in np.flatnonzero(np.isin(ids, duplicates)):
                mask[i] = int(ids[i]) in seen
                seen.add(int(ids[i]))
            if mask.any():
                v = _Verdict(table.num_rows)
                v.flag(mask, "duplicate_id", f"{id_col} seen before in this file")
                rejected = table.append_column("_image", table["image_id"])
                quarantine.add_rejected(rejected, v, out.source, id_col, spec.record_kind)
                dropped += int(mask.sum())
            writer.write_table(table.filter(pa.array(~mask)), row_group_size=ROW_GROUP_ROWS)
        writer.close()
        os.replace(rewritten, path)
    return dropped


def _writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """Snappy, dictionaries for the repetitive strings only, and min/max statistics for the pruning keys:
    writing is a fifth of the staging time, and these choices halve it for slightly larger files."""
    dictionary = [
        f.name if pa.types.is_string(f.type) else f"{f.name}.list.element"
        for f in schema
        if f.name not in _FREE_TEXT
        and (
            pa.types.is_string(f.type) or (pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type))
        )
    ]
    return pq.ParquetWriter(
        path,
        schema,
        compression="snappy",
        use_dictionary=dictionary,
        write_statistics=[k for k in _PRUNE_KEYS if k in schema.names],
    )


class _Buckets:
    """An external bucket sort: rows go to one scratch file per key range, then each bucket is read back and
    sorted on its own, so sorting a table costs the memory of one bucket."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True)
        self.writers: dict[int, pq.ParquetWriter] = {}
        self.schema: pa.Schema | None = None

    def add(self, table: pa.Table, bucket: np.ndarray) -> None:
        if not table.num_rows:
            return
        self.schema = self.schema or table.schema
        order = np.argsort(bucket, kind="stable")
        keys = bucket[order]
        cuts = np.flatnonzero(np.diff(keys)) + 1
        for start, stop in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [keys.size]]), strict=True):
            number = int(keys[start])
            if number not in self.writers:
                path = self.folder / f"bucket-{number:06d}.parquet"
                self.writers[number] = pq.ParquetWriter(
                    path, self.schema, compression="none", use_dictionary=False
                )
            self.writers[number].write_table(table.take(order[start:stop]).cast(self.schema))

    def files(self) -> Iterator[tuple[int, pq.ParquetFile]]:
        """(bucket number, file) in ascending bucket order."""
        for writer in self.writers.values():
            writer.close()
        for number in sorted(self.writers):
            yield number, pq.ParquetFile(self.folder / f"bucket-{number:06d}.parquet")


def _bounds(keys: np.ndarray, buckets: int) -> np.ndarray:
    """Key boundaries splitting `keys` into about `buckets` equal parts."""
    if not keys.size or buckets <= 1:
        return np.zeros(0, np.int64)
    return np.unique(np.quantile(keys, np.linspace(0, 1, buckets + 1)[1:-1]).astype(np.int64))


# --------------------------------------------------------------------------------------------------------
# stages


def stage_table(
    home: Home, sources: AnnotationSources, table: str, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> StageReport:
    """Stage one table from its source files. `images` must be staged first (the others check boxes and
    image ids against it) and `attributes` before `objects` (objects carry their attributes).

    Re-staging replaces the table folder and its quarantine file (`quarantine/stage_<table>/all.parquet`)."""
    spec = SPECS[table]
    files = sources.get(table)
    # glibc's allocator hands the buffers of each window back to the OS, Arrow's default (mimalloc) keeps
    # them: a third less peak RSS at the same speed. stage_all's workers get it from the environment, at
    # import, which also covers what pyarrow allocates before this line.
    pa.set_memory_pool(pa.system_memory_pool())
    started = time.perf_counter()
    report = StageReport(table, [f.name for f in files], sum(f.size for f in files))
    quarantine = _Quarantine(f"stage_{table}")
    home.staging.mkdir(parents=True, exist_ok=True)
    if spec.key is None:
        attributes = _AttributeLookup(home) if table == "objects" and sources.get("attributes") else None
        _stage_vg(home, spec, files, quarantine, report, chunk_bytes, attributes)
    else:
        _stage_coco(home, spec, files, quarantine, report, chunk_bytes)
    write_quarantine(home, quarantine.table(), f"stage_{table}")
    report.quarantined = dict(sorted(quarantine.counts.items()))
    report.seconds = round(time.perf_counter() - started, 3)
    report.peak_rss_mb = round(peak_rss_mib(), 1)
    if not report.reconciles:
        raise AssertionError(f"stage {table} does not reconcile: {report}")
    return report


def _stage_vg(
    home: Home,
    spec: StageSpec,
    files: Iterable[SourceFile],
    quarantine: _Quarantine,
    report: StageReport,
    chunk_bytes: int,
    attributes: _AttributeLookup | None,
) -> None:
    index = None if spec.table == "images" else ImageIndex.load(home)
    id_col = "image_id" if spec.record_id == "_image" else spec.record_id
    out = _Output(home, spec.table, spec.output)
    try:
        for source in files:
            out.source = source.name
            for chunk in stream_array(
                source, spec.element, chunk_bytes=chunk_bytes, slow_marker=spec.slow_marker
            ):
                report.elements += chunk.count
                before = quarantine.total
                rec = _records(spec, chunk, source.name, quarantine)
                report.read += rec.num_rows + quarantine.total - before
                cols, verdict = spec.normalize(rec, index)
                quarantine.add_rejected(rec, verdict, source.name, spec.record_id, spec.record_kind)
                staged = _assemble(cols, verdict, spec.output, attributes)
                report.accepted += staged.num_rows
                report.clipped += _count_true(staged, "clipped")
                out.write(staged, id_col)
                del rec, cols, verdict, staged
                _release()
        ids = out.sorted_ids()
        duplicates = np.unique(ids[1:][ids[1:] == ids[:-1]])
        if duplicates.size:
            report.accepted -= _drop_duplicates(out, spec, duplicates, quarantine)
            if "clipped" in spec.output.names:
                report.clipped = sum(
                    _count_true(pq.read_table(p, columns=["clipped"]), "clipped") for p in out.parts
                )
        if out.overlapping:
            _resort(out, id_col, index.ids if index is not None else ids)
        report.parts = len(out.parts)
        out.publish()
    except BaseException:
        out.discard()
        raise


def _resort(out: _Output, id_col: str, image_ids: np.ndarray) -> None:
    """A source not ordered by image: re-sort the staged parts (a bucket sort by image id), so that row
    groups prune by image id."""
    out.close()
    old = out.tmp.with_name(out.tmp.name + ".unsorted")
    out.tmp.rename(old)
    out.tmp.mkdir()
    out.parts, out.ranges = [], []
    bounds = _bounds(image_ids, -(-out.rows // _BUCKET_ROWS))
    buckets = _Buckets(old / "buckets")
    try:
        for path in sorted(old.glob("part-*.parquet")):
            parts = pq.ParquetFile(path)
            for group in range(parts.num_row_groups):
                table = parts.read_row_group(group)
                buckets.add(table, np.searchsorted(bounds, _ints(table["image_id"]), side="right"))
        for _, bucket in buckets.files():
            out.write(bucket.read().sort_by([("image_id", "ascending"), (id_col, "ascending")]), sort=False)
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _release() -> None:
    """Hand the freed buffers of a window back to the OS (`malloc_trim` under the system pool): glibc keeps
    freed heap memory otherwise, and fragmentation across windows grew RSS by tens of MiB per stage."""
    pa.default_memory_pool().release_unused()


def peak_rss_mib() -> float:
    """This process's peak RSS. Linux's VmHWM, not getrusage: a spawned process's ru_maxrss starts at its
    parent's RSS at fork time (the kernel carries the pre-exec high-water mark over)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _count_true(table: pa.Table, column: str) -> int:
    if column not in table.column_names or not table.num_rows:
        return 0
    return int(pc.sum(table[column]).as_py() or 0)


def _arrow(value: Any) -> pa.Array | pa.ChunkedArray:
    return pa.array(value) if isinstance(value, np.ndarray) else value


def _assemble(
    cols: dict[str, Any], verdict: _Verdict, schema: pa.Schema, attributes: _AttributeLookup | None = None
) -> pa.Table:
    """The accepted rows in the staged schema (objects also get their attributes)."""
    keep = pa.array(verdict.ok)
    table = pa.table(
        {f.name: pc.cast(pc.filter(_arrow(cols[f.name]), keep), f.type) for f in schema if f.name in cols}
    )
    if "attributes" in schema.names and "attributes" not in cols:
        merged = (
            attributes.attach(table) if attributes is not None else _lists(pa.nulls(table.num_rows, _STRS))
        )
        table = table.append_column("attributes", merged)
    return table.select(schema.names)


def _lists(lists: pa.ChunkedArray | pa.Array) -> pa.Array:
    """list<string> without nulls (a null list becomes an empty one)."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    lengths = np.asarray(pc.fill_null(pc.list_value_length(lists), 0), np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pc.list_flatten(lists), type=lists.type)


class _AttributeLookup:
    """Attributes of the staged attributes table for a window of objects, joined on (image_id, object_id).

    Only the row groups whose image-id statistics overlap the window are read (the staged parts are sorted
    by image id), so memory stays at a few row groups whatever the table size."""

    def __init__(self, home: Home):
        folder = home.staging / "attributes"
        if not folder.is_dir():
            raise FileNotFoundError(f"stage attributes before objects: no staged attributes under {folder}")
        self.groups: list[tuple[int, int, pq.ParquetFile, int]] = []
        for path in sorted(folder.glob("*.parquet")):
            parquet = pq.ParquetFile(path)
            column = parquet.schema_arrow.get_field_index("image_id")
            for group in range(parquet.num_row_groups):
                stats = parquet.metadata.row_group(group).column(column).statistics
                self.groups.append((stats.min, stats.max, parquet, group))

    def attach(self, objects: pa.Table) -> pa.Array:
        n = objects.num_rows
        image = objects["image_id"]
        lo, hi = (pc.min(image).as_py(), pc.max(image).as_py()) if n else (0, -1)
        pieces = [
            parquet.read_row_group(group, columns=["image_id", "object_id", "attributes"])
            for first, last, parquet, group in self.groups
            if last >= lo and first <= hi
        ]
        if not pieces:
            return _lists(pa.nulls(n, _STRS))
        found = pa.concat_tables(pieces)
        keys = pa.table({"image_id": image, "object_id": objects["object_id"], "_row": np.arange(n)})
        found_keys = pa.table(
            {"image_id": found["image_id"], "object_id": found["object_id"], "_at": np.arange(found.num_rows)}
        )
        joined = keys.join(found_keys, ["image_id", "object_id"], join_type="left outer", use_threads=False)
        at = np.full(n, -1, np.int64)
        at[np.asarray(joined["_row"], np.int64)] = np.asarray(pc.fill_null(joined["_at"], -1), np.int64)
        return _lists(found["attributes"].combine_chunks().take(pa.array(np.maximum(at, 0), mask=at < 0)))


def _stage_coco(
    home: Home,
    spec: StageSpec,
    files: Iterable[SourceFile],
    quarantine: _Quarantine,
    report: StageReport,
    chunk_bytes: int,
) -> None:
    """Stream each COCO file once: its images and categories into memory (small), its records into buckets
    by the VG image owning their coco_id; then validate the images, and sort, join and validate the records
    one bucket at a time (records of COCO images no VG image names are appended unsorted)."""
    files = list(files)
    owners = ImageIndex.load(home).coco_owners()
    out = _Output(home, spec.table, spec.output)
    images_out = _Output(home, coco_images_table(spec.table), COCO_IMAGES_SPEC.output)
    buckets = _Buckets(out.tmp.with_name(out.tmp.name + ".buckets"))
    bounds = _bounds(np.asarray(owners["image_id"], np.int64), -(-report.bytes // _BUCKET_BYTES))
    unowned = bounds.size + 1
    try:
        image_tables, category_tables, repeated = [], [], []
        seq = 0
        schemas = {"images": COCO_IMAGES_SPEC.element, spec.key: spec.element}
        if spec.table == "coco_instances":
            schemas["categories"] = pa.schema(list(_CATEGORY))
        for number, source in enumerate(files):
            record_ids = []
            for chunk in stream_object(
                source, schemas, chunk_bytes=chunk_bytes, slow_marker=spec.slow_marker
            ):
                if chunk.key == "categories":
                    category_tables.append(_tag(chunk.table, number))
                    continue
                kind = COCO_IMAGES_SPEC if chunk.key == "images" else spec
                report.elements += chunk.count
                before = quarantine.total
                rec = _records(kind, chunk, source.name, quarantine)
                report.read += rec.num_rows + quarantine.total - before
                rec = _tag(rec, number).append_column("_seq", pa.array(np.arange(seq, seq + rec.num_rows)))
                seq += rec.num_rows
                if chunk.key == "images":
                    image_tables.append(rec)
                    continue
                record_ids.append((rec["id"], rec["_seq"]))
                owner = _owner_of(owners, _ints(rec["_image"]))
                rec = rec.append_column("_vg", owner)
                bucket = np.searchsorted(bounds, _ints(owner), side="right")
                buckets.add(rec, np.where(_nulls(owner), unowned, bucket))
            repeated.append(_repeated(record_ids))
        names = pa.array([f.name for f in files], _STR)
        images = _coco_images(image_tables, owners, names, images_out, quarantine)
        report.accepted += images_out.rows
        lookup = _CocoLookup(
            images, category_tables, np.concatenate(repeated) if repeated else np.zeros(0, np.int64), names
        )
        for number, bucket in buckets.files():
            if number == unowned:
                batches = (bucket.read_row_group(g) for g in range(bucket.num_row_groups))
            else:
                keys = [
                    ("_vg", "ascending"),
                    ("_image", "ascending"),
                    ("id", "ascending"),
                    ("_seq", "ascending"),
                ]
                batches = iter([bucket.read().sort_by(keys)])
            for rec in batches:
                joined = lookup.join(rec)
                cols, verdict = spec.normalize(joined, None)
                quarantine.add_rejected(joined, verdict, "", "id", spec.record_kind)
                staged = _assemble(cols, verdict, spec.output)
                report.clipped += _count_true(staged, "clipped")
                out.write(staged, sort=False)
                del joined, cols, verdict, staged
                _release()
        report.accepted += out.rows
        report.parts = len(out.parts)
        images_out.publish()
        out.publish()
    except BaseException:
        out.discard()
        images_out.discard()
        raise
    finally:
        shutil.rmtree(buckets.folder, ignore_errors=True)


class _CocoLookup:
    """What a COCO record needs from the rest of its file: its image's size (`_w`, `_h`, null when the file
    lacks the image), its category (`_category`, `_supercategory`), whether its id repeats (`_dup`), and
    the file name (`_file`); matched per source file on numpy-sorted keys."""

    def __init__(self, images: pa.Table, categories: list[pa.Table], repeated: np.ndarray, names: pa.Array):
        self.names = names
        self.repeated = np.sort(repeated)
        self.image_keys, self.images = self._index(images, "coco_id")
        table = (
            pa.concat_tables(categories) if categories else _tag(pa.schema(list(_CATEGORY)).empty_table(), 0)
        )
        self.category_keys, self.categories = self._index(table, "id")

    @staticmethod
    def _index(table: pa.Table, key: str) -> tuple[np.ndarray, pa.Table]:
        keys = _key(table["_src"], table[key])
        order = np.argsort(keys, kind="stable")
        return keys[order], table.take(order)

    @staticmethod
    def _find(keys: np.ndarray, wanted: np.ndarray) -> pa.Array:
        at = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
        found = keys[at] == wanted if keys.size else np.zeros(wanted.size, bool)
        return pa.array(at, mask=~found)

    def join(self, rec: pa.Table) -> pa.Table:
        image = self._find(self.image_keys, _key(rec["_src"], rec["_image"]))
        rec = rec.append_column("_w", self.images["width"].take(image)).append_column(
            "_h", self.images["height"].take(image)
        )
        if "category_id" in rec.column_names:
            category = self._find(self.category_keys, _key(rec["_src"], rec["category_id"]))
            rec = rec.append_column("_category", self.categories["name"].take(category))
            rec = rec.append_column("_supercategory", self.categories["supercategory"].take(category))
        seq = np.asarray(rec["_seq"], np.int64)
        at = np.minimum(np.searchsorted(self.repeated, seq), max(self.repeated.size - 1, 0))
        dup = self.repeated[at] == seq if self.repeated.size else np.zeros(seq.size, bool)
        rec = rec.append_column("_dup", pa.array(dup))
        return rec.append_column("_file", self.names.take(pc.cast(rec["_src"], _I64)))


def _key(src: pa.ChunkedArray, ids: pa.ChunkedArray) -> np.ndarray:
    """One int64 per (source file, id); a null id never matches (-1)."""
    values = np.where(_nulls(ids), -1, _ints(ids))
    return np.where(values < 0, -1, (np.asarray(src, np.int64) << 48) | (values & ((1 << 48) - 1)))


def _tag(table: pa.Table, number: int) -> pa.Table:
    return table.append_column("_src", pa.array(np.full(table.num_rows, number, np.int32)))


def _repeated(record_ids: list[tuple[pa.ChunkedArray, pa.ChunkedArray]]) -> np.ndarray:
    """Sequence numbers of the records whose id already appeared earlier in the same file."""
    if not record_ids:
        return np.zeros(0, np.int64)
    ids = pa.chunked_array([c for r in record_ids for c in r[0].chunks], _I64)
    seqs = np.concatenate([np.asarray(r[1], np.int64) for r in record_ids])
    valid = ~_nulls(ids)
    ids, seqs = _ints(ids)[valid], seqs[valid]
    order = np.lexsort((seqs, ids))
    ids, seqs = ids[order], seqs[order]
    return seqs[1:][ids[1:] == ids[:-1]]


def _coco_images(
    tables: list[pa.Table], owners: pa.Table, names: pa.Array, out: _Output, quarantine: _Quarantine
) -> pa.Table:
    """Validate and stage the COCO images; returns the accepted ones (per file) for the record join."""
    rec = pa.concat_tables(tables) if tables else None
    if rec is None:
        empty = pa.schema([*list(_COCO_IMAGE_RECORD), ("_image", _I64), ("_src", pa.int32()), ("_seq", _I64)])
        rec = empty.empty_table()
    ids, src = _ints(rec["id"]), np.asarray(rec["_src"], np.int64)
    order = np.lexsort((np.asarray(rec["_seq"], np.int64), ids, src))
    dup = np.zeros(rec.num_rows, bool)
    dup[order[1:][(ids[order][1:] == ids[order][:-1]) & (src[order][1:] == src[order][:-1])]] = True
    rec = rec.append_column("_dup", pa.array(dup)).append_column(
        "_file", names.take(pa.array(src)) if src.size else pa.array([], _STR)
    )
    rec = rec.append_column("_vg", _owner_of(owners, ids))
    cols, verdict = _normalize_coco_images(rec, None)
    quarantine.add_rejected(rec, verdict, "", "id", COCO_IMAGES_SPEC.record_kind)
    staged = _assemble(cols, verdict, COCO_IMAGES_SPEC.output)
    staged = staged.sort_by([("image_id", "ascending"), ("coco_id", "ascending")])
    out.write(staged, sort=False)
    return (
        rec.filter(pa.array(verdict.ok))
        .select(["_src", "id", "width", "height"])
        .rename_columns(["_src", "coco_id", "width", "height"])
    )


def _owner_of(owners: pa.Table, coco_ids: np.ndarray) -> pa.Array:
    keys, values = np.asarray(owners["coco_id"], np.int64), np.asarray(owners["image_id"], np.int64)
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    if not keys.size:
        return pa.nulls(coco_ids.size, _I64)
    at = np.minimum(np.searchsorted(keys, coco_ids), keys.size - 1)
    return pa.array(values[at], mask=keys[at] != coco_ids)


# --------------------------------------------------------------------------------------------------------
# all tables


def stage_all(
    home: Home,
    sources: AnnotationSources,
    *,
    workers: int | None = None,
    chunk_bytes: int | None = None,
) -> dict[str, StageReport]:
    """Stage every table that has sources: images first (in this process, while the workers start), then
    the others in `workers` processes (default: one below `POOL_MIN_BYTES` of JSON, two above). Windows
    default to `SMALL_CHUNK_BYTES` in one process (memory first: small inputs are quick anyway) and to
    `DEFAULT_CHUNK_BYTES` in the pool (speed first, at full scale).

    Tables are independent once images are staged, except objects (after attributes); the longest chain of
    bytes goes first so that the processes finish together."""
    tables = ["images", *(t for t in SPECS if t != "images" and sources.get(t))]
    depends = {t: tuple(d for d in DEPENDS[t] if d in tables) for t in tables}
    size = {t: sum(f.size for f in sources.get(t)) for t in tables}
    workers = default_workers(sources) if workers is None else workers
    if chunk_bytes is None:
        chunk_bytes = SMALL_CHUNK_BYTES if workers <= 1 else DEFAULT_CHUNK_BYTES

    def chain(table: str) -> int:
        return size[table] + max((chain(t) for t in tables if table in depends[t]), default=0)

    priority = sorted(tables, key=chain, reverse=True)
    reports: dict[str, StageReport] = {}
    if workers <= 1:
        for table in sorted(tables, key=lambda t: (len(depends[t]), -chain(t))):
            reports[table] = stage_table(home, sources, table, chunk_bytes=chunk_bytes)
        return reports
    running: dict[Future, str] = {}
    with (
        _child_environment(ARROW_DEFAULT_MEMORY_POOL="system"),
        ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context("spawn"), initializer=_worker_init
        ) as pool,
    ):
        for _ in range(workers):
            pool.submit(_worker_init)  # spawn the processes now: their imports overlap the images stage
        reports["images"] = stage_table(home, sources, "images", chunk_bytes=chunk_bytes)  # small, right here
        while len(reports) < len(tables):
            busy = set(running.values())
            for table in priority:
                if len(running) >= workers:
                    break
                if table in reports or table in busy or not all(d in reports for d in depends[table]):
                    continue
                running[pool.submit(stage_table, home, sources, table, chunk_bytes=chunk_bytes)] = table
                busy.add(table)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                reports[running.pop(future)] = future.result()
    return {t: reports[t] for t in tables}


def default_workers(sources: AnnotationSources) -> int:
    """One staging process below `POOL_MIN_BYTES` of JSON, two above."""
    total = sum(f.size for files in sources.files.values() for f in files)
    return 1 if total < POOL_MIN_BYTES else 2


@contextmanager
def _child_environment(**variables: str) -> Iterator[None]:
    """Environment for the processes spawned meanwhile (read by pyarrow when a worker imports it)."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _worker_init() -> None:
    """One CPU per staging process: the parallelism is across processes."""
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)

"""Build one `image_annotations` partition: every staged table joined per image for one batch of images.

A private in-memory DuckDB reads the staged Parquet directly (never the catalog file) with the batch's
image-id range as a filter; the staged files are sorted by image id with small row groups, so each batch
reads only the row groups of its own images. COCO rows were staged under the VG image that owns their
`coco_id`, so they prune the same way; only images sharing a `coco_id` with an image outside the batch fall
back to a lookup by `coco_id`. Several processes can build different batches at once: each writes only its
own partition file and its own quarantine file, both atomically, so a re-run replaces them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from svit_assets.annotations import IMAGE_ANNOTATIONS_SCHEMA
from svit_assets.home import Home
from svit_assets.ingest.batches import parse_batch_key
from svit_assets.warehouse import arrow_table, write_parquet_atomic, write_quarantine

_COCO_IMAGE_TABLES = ("coco_caption_images", "coco_instance_images")
_IMAGE_COLUMNS = ("image_id", "width", "height", "coco_id", "url")


@dataclass
class JoinReport:
    batch: str
    images: int = 0
    objects: int = 0
    relationships: int = 0
    regions: int = 0
    captions: int = 0
    instances: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    path: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_image_annotations(home: Home, batch_key: str) -> JoinReport:
    started = time.perf_counter()
    first, last = parse_batch_key(batch_key)
    con = duckdb.connect(config={"threads": 1})
    try:
        table, rejected = _join(con, home, first, last, batch_key)
    finally:
        con.close()
    path = write_parquet_atomic(table, home.partition_file("image_annotations", batch_key))
    write_quarantine(home, rejected, "image_annotations", batch_key)
    report = JoinReport(batch_key, images=table.num_rows, path=str(path))
    for name in ("objects", "relationships", "regions", "captions", "instances"):
        setattr(report, name, int(pc.sum(pc.list_value_length(table[name])).as_py() or 0))
    for row in rejected:
        report.quarantined[row["reason"]] = report.quarantined.get(row["reason"], 0) + 1
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _files(home: Home, table: str) -> str | None:
    folder = home.staging / table
    return f"read_parquet('{folder}/*.parquet')" if any(folder.glob("*.parquet")) else None


def _nested(name: str) -> list[str]:
    """Field names of one list<struct> column of IMAGE_ANNOTATIONS_SCHEMA (the staged column names)."""
    return [f.name for f in IMAGE_ANNOTATIONS_SCHEMA.field(name).type.value_type]


def _grouped(
    source: str | None, key: str, column: str, order: str, where: str, value: list[str] | str
) -> str | None:
    """One list per image (or COCO image) of the staged rows in the batch, in a deterministic order."""
    if source is None:
        return None
    if isinstance(value, list):
        value = "{" + ", ".join(f"'{f}': {f}" for f in value) + "}"
    return (
        f"SELECT {key}, list({value} ORDER BY {order}) AS {column} FROM {source} WHERE {where} GROUP BY {key}"
    )


def _join(
    con: duckdb.DuckDBPyConnection, home: Home, first: int, last: int, key: str
) -> tuple[pa.Table, list[dict]]:
    images = _files(home, "images")
    if images is None:
        raise FileNotFoundError(f"stage images first: no staged images under {home.staging / 'images'}")
    in_batch = f"image_id BETWEEN {first} AND {last}"
    con.execute(
        f"CREATE TEMP TABLE batch_images AS SELECT {', '.join(_IMAGE_COLUMNS)} FROM {images} WHERE {in_batch}"
    )
    coco_where, rejected = _coco_scope(con, home, first, last)
    parts = {
        "objects": _grouped(
            _files(home, "objects"), "image_id", "objects", "object_id", in_batch, _nested("objects")
        ),
        "relationships": _grouped(
            _files(home, "relationships"),
            "image_id",
            "relationships",
            "relationship_id",
            in_batch,
            _nested("relationships"),
        ),
        "regions": _grouped(
            _files(home, "regions"), "image_id", "regions", "region_id", in_batch, _nested("regions")
        ),
        "captions": _grouped(
            _files(home, "coco_captions"), "coco_id", "captions", "caption_id", coco_where, "caption"
        ),
        "instances": _grouped(
            _files(home, "coco_instances"),
            "coco_id",
            "instances",
            "annotation_id",
            coco_where,
            _nested("instances"),
        ),
    }
    select = ["i.image_id", "i.width", "i.height", "i.coco_id", "i.url", f"'{key}' AS batch"]
    joins = []
    for n, (name, sql) in enumerate(parts.items()):
        if sql is None:
            select.append(f"NULL AS {name}")
            continue
        on = "coco_id" if name in ("captions", "instances") else "image_id"
        joins.append(f"LEFT JOIN ({sql}) t{n} ON t{n}.{on} = i.{on}")
        select.append(f"t{n}.{name}")
    table = arrow_table(
        con.sql(f"SELECT {', '.join(select)} FROM batch_images i {' '.join(joins)} ORDER BY i.image_id")
    )
    return _conform(table), rejected


def _coco_scope(con: duckdb.DuckDBPyConnection, home: Home, first: int, last: int) -> tuple[str, list[dict]]:
    """The filter selecting the batch's COCO rows, and the images quarantined for a coco_id that no COCO
    file has (removed from `batch_images`); without COCO files nothing is quarantined."""
    in_batch = f"image_id BETWEEN {first} AND {last}"
    sources = [s for s in (_files(home, t) for t in _COCO_IMAGE_TABLES) if s]
    if not sources:
        return in_batch, []
    coco_images = " UNION ALL ".join(f"SELECT coco_id, image_id FROM {s}" for s in sources)
    known = con.sql(
        f"""SELECT b.coco_id, count(c.coco_id), min(c.image_id)
            FROM (SELECT DISTINCT coco_id FROM batch_images WHERE coco_id IS NOT NULL) b
            LEFT JOIN ({coco_images}) c ON c.coco_id = b.coco_id GROUP BY b.coco_id"""
    ).fetchall()
    # rows owned by an image outside this batch (a shared coco_id), or staged before the images: by coco_id
    foreign = sorted(
        coco for coco, n, owner in known if n and not (owner is not None and first <= owner <= last)
    )
    where = f"({in_batch} OR coco_id IN ({', '.join(map(str, foreign))}))" if foreign else in_batch
    unknown = ", ".join(str(coco) for coco, n, _ in sorted(known) if n == 0)
    if not unknown:
        return where, []
    columns = ", ".join(_IMAGE_COLUMNS)
    rows = con.sql(
        f"SELECT {columns} FROM batch_images WHERE coco_id IN ({unknown}) ORDER BY image_id"
    ).fetchall()
    con.execute(f"DELETE FROM batch_images WHERE coco_id IN ({unknown})")
    rejected = []
    for row in rows:
        record = dict(zip(_IMAGE_COLUMNS, row, strict=True))
        rejected.append(
            {
                "source_file": "staging/images",
                "stage": "image_annotations",
                "record_kind": "image",
                "image_id": record["image_id"],
                "record_id": str(record["image_id"]),
                "reason": "unknown_coco_id",
                "detail": f"coco_id {record['coco_id']} is in none of the COCO files' images",
                "raw": orjson.dumps(record).decode(),
            }
        )
    return where, rejected


def _conform(table: pa.Table) -> pa.Table:
    """Exactly IMAGE_ANNOTATIONS_SCHEMA, with empty lists instead of nulls for images without records."""
    columns = []
    for f in IMAGE_ANNOTATIONS_SCHEMA:
        column = table[f.name]
        if pa.types.is_null(column.type):
            column = pa.nulls(table.num_rows, f.type)
        column = column.cast(f.type)
        if pa.types.is_list(f.type):
            column = pc.fill_null(column, pa.scalar([], f.type))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=IMAGE_ANNOTATIONS_SCHEMA)

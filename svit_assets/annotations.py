"""The per-image annotation record every downstream stage reads (context building, generation, export).

`image_annotations` partitions store one row per image with this nested schema; :class:`ImageAnnotations`
is the typed view of such a row, so the plain-Python core never depends on Parquet or Dagster.
Boxes are in pixels of the original image (x, y, w, h), already clipped to the image at ingest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def x2(self) -> float:
        return self.x + self.w

    @property
    def y2(self) -> float:
        return self.y + self.h

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)

    def normalized(self, width: float, height: float) -> tuple[float, float, float, float]:
        """[x1, y1, x2, y2] in 0–1 of the original frame, 3 decimals (the SVIT / LLaVA context form)."""
        return (
            round(min(max(self.x / width, 0.0), 1.0), 3),
            round(min(max(self.y / height, 0.0), 1.0), 3),
            round(min(max(self.x2 / width, 0.0), 1.0), 3),
            round(min(max(self.y2 / height, 0.0), 1.0), 3),
        )

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x, other.x))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


def iou_xyxy(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of two [x1, y1, x2, y2] boxes (normalised boxes in generated text use this form)."""
    return Box(a[0], a[1], a[2] - a[0], a[3] - a[1]).iou(Box(b[0], b[1], b[2] - b[0], b[3] - b[1]))


@dataclass(frozen=True)
class ObjectAnnotation:
    object_id: int
    name: str
    names: tuple[str, ...]
    synsets: tuple[str, ...]
    attributes: tuple[str, ...]
    box: Box


@dataclass(frozen=True)
class RelationshipAnnotation:
    relationship_id: int
    predicate: str
    subject_id: int
    subject_name: str
    object_id: int
    object_name: str


@dataclass(frozen=True)
class RegionAnnotation:
    region_id: int
    phrase: str
    box: Box


@dataclass(frozen=True)
class CocoInstance:
    annotation_id: int
    category: str
    supercategory: str
    box: Box
    iscrowd: bool
    area: float
    segmentation_kind: str  # "polygon" | "rle"
    polygons: tuple[tuple[float, ...], ...] = ()
    rle_counts: str | None = None  # compressed COCO RLE string
    rle_size: tuple[int, int] | None = None  # (height, width)


@dataclass(frozen=True)
class ImageAnnotations:
    image_id: int
    width: int
    height: int
    coco_id: int | None
    url: str | None
    batch: str
    objects: tuple[ObjectAnnotation, ...] = ()
    relationships: tuple[RelationshipAnnotation, ...] = ()
    regions: tuple[RegionAnnotation, ...] = ()
    captions: tuple[str, ...] = ()
    instances: tuple[CocoInstance, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_record(cls, row: dict[str, Any]) -> ImageAnnotations:
        def box(d: dict[str, Any]) -> Box:
            return Box(float(d["x"]), float(d["y"]), float(d["w"]), float(d["h"]))

        return cls(
            image_id=int(row["image_id"]),
            width=int(row["width"]),
            height=int(row["height"]),
            coco_id=row.get("coco_id"),
            url=row.get("url"),
            batch=row.get("batch") or "",
            objects=tuple(
                ObjectAnnotation(
                    object_id=int(o["object_id"]),
                    name=o["name"],
                    names=tuple(o.get("names") or ()),
                    synsets=tuple(o.get("synsets") or ()),
                    attributes=tuple(o.get("attributes") or ()),
                    box=box(o),
                )
                for o in row.get("objects") or ()
            ),
            relationships=tuple(
                RelationshipAnnotation(
                    relationship_id=int(r["relationship_id"]),
                    predicate=r["predicate"],
                    subject_id=int(r["subject_id"]),
                    subject_name=r["subject_name"],
                    object_id=int(r["object_id"]),
                    object_name=r["object_name"],
                )
                for r in row.get("relationships") or ()
            ),
            regions=tuple(
                RegionAnnotation(region_id=int(r["region_id"]), phrase=r["phrase"], box=box(r))
                for r in row.get("regions") or ()
            ),
            captions=tuple(row.get("captions") or ()),
            instances=tuple(
                CocoInstance(
                    annotation_id=int(i["annotation_id"]),
                    category=i["category"],
                    supercategory=i.get("supercategory") or "",
                    box=box(i),
                    iscrowd=bool(i.get("iscrowd")),
                    area=float(i.get("area") or 0.0),
                    segmentation_kind=i.get("segmentation_kind") or "polygon",
                    polygons=tuple(tuple(p) for p in i.get("polygons") or ()),
                    rle_counts=i.get("rle_counts"),
                    rle_size=tuple(i["rle_size"]) if i.get("rle_size") else None,
                )
                for i in row.get("instances") or ()
            ),
        )

    def object_by_id(self) -> dict[int, ObjectAnnotation]:
        return {o.object_id: o for o in self.objects}


_BOX_FIELDS = [pa.field("x", pa.float64()), pa.field("y", pa.float64()), pa.field("w", pa.float64()), pa.field("h", pa.float64())]

IMAGE_ANNOTATIONS_SCHEMA = pa.schema(
    [
        pa.field("image_id", pa.int64(), nullable=False),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("coco_id", pa.int64()),
        pa.field("url", pa.string()),
        pa.field("batch", pa.string()),
        pa.field(
            "objects",
            pa.list_(
                pa.struct(
                    [
                        pa.field("object_id", pa.int64()),
                        pa.field("name", pa.string()),
                        pa.field("names", pa.list_(pa.string())),
                        pa.field("synsets", pa.list_(pa.string())),
                        pa.field("attributes", pa.list_(pa.string())),
                        *_BOX_FIELDS,
                    ]
                )
            ),
        ),
        pa.field(
            "relationships",
            pa.list_(
                pa.struct(
                    [
                        pa.field("relationship_id", pa.int64()),
                        pa.field("predicate", pa.string()),
                        pa.field("subject_id", pa.int64()),
                        pa.field("subject_name", pa.string()),
                        pa.field("object_id", pa.int64()),
                        pa.field("object_name", pa.string()),
                    ]
                )
            ),
        ),
        pa.field(
            "regions",
            pa.list_(pa.struct([pa.field("region_id", pa.int64()), pa.field("phrase", pa.string()), *_BOX_FIELDS])),
        ),
        pa.field("captions", pa.list_(pa.string())),
        pa.field(
            "instances",
            pa.list_(
                pa.struct(
                    [
                        pa.field("annotation_id", pa.int64()),
                        pa.field("category", pa.string()),
                        pa.field("supercategory", pa.string()),
                        *_BOX_FIELDS,
                        pa.field("iscrowd", pa.bool_()),
                        pa.field("area", pa.float64()),
                        pa.field("segmentation_kind", pa.string()),
                        pa.field("polygons", pa.list_(pa.list_(pa.float64()))),
                        pa.field("rle_counts", pa.string()),
                        pa.field("rle_size", pa.list_(pa.int32())),
                    ]
                )
            ),
        ),
    ]
)

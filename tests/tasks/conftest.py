"""Images for the task tests: hand-made scenes with known content, and the real Visual Genome sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from svit_assets.annotations import (
    Box,
    ImageAnnotations,
    ObjectAnnotation,
    RegionAnnotation,
    RelationshipAnnotation,
)

W, H = 800, 600


def _box(x1: float, y1: float, x2: float, y2: float) -> Box:
    """A pixel box from normalised corners, so scenes read like the context they produce."""
    return Box(x1 * W, y1 * H, (x2 - x1) * W, (y2 - y1) * H)


def scene(
    image_id: int,
    objects: list[tuple[int, str, tuple[float, float, float, float], tuple[str, ...]]],
    regions: list[tuple[int, str, tuple[float, float, float, float]]] = (),
    captions: tuple[str, ...] = (),
    relations: list[tuple[int, str, int]] = (),
    batch: str = "b00000001-00000099",
) -> ImageAnnotations:
    names = {oid: name for oid, name, _, _ in objects}
    return ImageAnnotations(
        image_id=image_id,
        width=W,
        height=H,
        coco_id=None,
        url=None,
        batch=batch,
        objects=tuple(
            ObjectAnnotation(oid, name, (name,), (), attrs, _box(*corners))
            for oid, name, corners, attrs in objects
        ),
        relationships=tuple(
            RelationshipAnnotation(n, pred, s, names[s], o, names[o])
            for n, (s, pred, o) in enumerate(relations, 1)
        ),
        regions=tuple(RegionAnnotation(rid, phrase, _box(*corners)) for rid, phrase, corners in regions),
        captions=tuple(captions),
    )


def street_scene(
    image_id: int = 11, caption: str = "A red double-decker bus drives down a city street."
) -> ImageAnnotations:
    return scene(
        image_id,
        objects=[
            (101, "bus", (0.212, 0.184, 0.768, 0.873), ("red",)),
            (102, "bus", (0.214, 0.186, 0.766, 0.870), ()),  # a VG duplicate of 101 (IoU ≥ 0.9)
            (103, "man", (0.812, 0.402, 0.889, 0.861), ()),
            (104, "woman", (0.884, 0.421, 0.952, 0.858), ()),
            (105, "umbrella", (0.870, 0.318, 0.987, 0.452), ("black",)),
            (106, "street", (0.0, 0.721, 1.0, 1.0), ("wet",)),
            (107, "building", (0.0, 0.0, 0.398, 0.612), ()),
            (108, "building", (0.642, 0.0, 1.0, 0.545), ()),
            (109, "sign", (0.785, 0.201, 0.812, 0.533), ()),
            (110, "wheel", (0.301, 0.752, 0.382, 0.871), ()),
        ],
        regions=[
            (201, "a red double decker bus", (0.205, 0.176, 0.775, 0.880)),
            (202, "two people standing at a bus stop", (0.800, 0.310, 0.990, 0.870)),
            (203, "wet grey pavement", (0.0, 0.760, 1.0, 1.0)),
            (204, "shop windows on the building", (0.010, 0.350, 0.390, 0.600)),
        ],
        captions=(caption, "People wait at a bus stop as a red bus approaches."),
        relations=[(104, "holding", 105), (103, "standing next to", 104), (101, "on", 106)],
    )


def park_scene(
    image_id: int = 12, caption: str = "A brown dog jumps to catch a frisbee in a park."
) -> ImageAnnotations:
    return scene(
        image_id,
        objects=[
            (301, "dog", (0.355, 0.298, 0.642, 0.715), ("brown", "jumping")),
            (302, "frisbee", (0.583, 0.152, 0.671, 0.231), ("yellow",)),
            (303, "man", (0.052, 0.392, 0.168, 0.905), ()),
            (304, "grass", (0.0, 0.655, 1.0, 1.0), ("green",)),
            (305, "tree", (0.0, 0.0, 0.241, 0.702), ()),
            (306, "tree", (0.781, 0.0, 1.0, 0.688), ()),
            (307, "bench", (0.803, 0.552, 0.967, 0.731), ("wooden",)),
            (308, "collar", (0.501, 0.372, 0.548, 0.410), ("red",)),
        ],
        regions=[
            (401, "a brown dog jumping in the air", (0.350, 0.290, 0.650, 0.720)),
            (402, "a man watching the dog", (0.048, 0.385, 0.172, 0.910)),
            (403, "an empty wooden bench", (0.800, 0.548, 0.970, 0.735)),
        ],
        captions=(caption,),
        relations=[(301, "wearing", 308), (303, "standing on", 304)],
    )


def thin_scene(image_id: int = 13) -> ImageAnnotations:
    return scene(
        image_id,
        objects=[(501, "wall", (0.0, 0.0, 1.0, 0.8), ()), (502, "lamp", (0.4, 0.1, 0.5, 0.3), ())],
        regions=[(601, "a white wall", (0.0, 0.0, 1.0, 0.8))],
    )


@pytest.fixture
def street() -> ImageAnnotations:
    return street_scene()


@pytest.fixture
def park() -> ImageAnnotations:
    return park_scene()


@pytest.fixture
def thin() -> ImageAnnotations:
    return thin_scene()


@pytest.fixture
def scenes():
    """Factories, for tests that need several distinct images (distinct captions keep prompts apart)."""
    return {"street": street_scene, "park": park_scene, "thin": thin_scene, "scene": scene}


def _clip(record: dict, width: int, height: int) -> Box | None:
    x, y = max(float(record["x"]), 0.0), max(float(record["y"]), 0.0)
    x2 = min(float(record["x"]) + float(record.get("w", record.get("width", 0))), width)
    y2 = min(float(record["y"]) + float(record.get("h", record.get("height", 0))), height)
    return Box(x, y, x2 - x, y2 - y) if x2 > x and y2 > y else None


def load_vg_images(folder: Path) -> list[ImageAnnotations]:
    """The 50 real VG records as ImageAnnotations (clipped boxes, degenerate ones left out, like ingest)."""
    images = {r["image_id"]: r for r in json.loads((folder / "image_data.json").read_text())}
    attributes: dict[tuple[int, int], list[str]] = {}
    for record in json.loads((folder / "attributes.json").read_text()):
        for obj in record["attributes"]:
            attributes[(record["image_id"], obj["object_id"])] = obj.get("attributes") or []
    objects, relations, regions = {}, {}, {}
    for record in json.loads((folder / "objects.json").read_text()):
        objects[record["image_id"]] = record["objects"]
    for record in json.loads((folder / "relationships.json").read_text()):
        relations[record["image_id"]] = record["relationships"]
    for record in json.loads((folder / "region_descriptions.json").read_text()):
        regions[record["id"]] = record["regions"]
    result = []
    for image_id, info in sorted(images.items()):
        width, height = info["width"], info["height"]
        objs = []
        for obj in objects.get(image_id, ()):
            box = _clip(obj, width, height)
            if box is None:
                continue
            name = (obj.get("names") or [obj.get("name", "")])[0].strip()
            attrs = tuple(attributes.get((image_id, obj["object_id"]), ()))
            objs.append(
                ObjectAnnotation(
                    obj["object_id"],
                    name,
                    tuple(obj.get("names") or ()),
                    tuple(obj.get("synsets") or ()),
                    attrs,
                    box,
                )
            )
        rels = []
        for rel in relations.get(image_id, ()):
            subject, target = rel["subject"], rel["object"]
            rels.append(
                RelationshipAnnotation(
                    rel["relationship_id"],
                    " ".join(rel["predicate"].lower().split()),
                    subject["object_id"],
                    subject.get("name") or (subject.get("names") or [""])[0],
                    target["object_id"],
                    target.get("name") or (target.get("names") or [""])[0],
                )
            )
        regs = [
            RegionAnnotation(r["region_id"], r["phrase"].strip(), box)
            for r in regions.get(image_id, ())
            if (box := _clip(r, width, height)) is not None
        ]
        result.append(
            ImageAnnotations(
                image_id,
                width,
                height,
                None,
                info.get("url"),
                "b00000001-00000050",
                tuple(objs),
                tuple(rels),
                tuple(regs),
            )
        )
    return result


@pytest.fixture(scope="session")
def vg_images(shared_fixtures: Path) -> list[ImageAnnotations]:
    return load_vg_images(shared_fixtures / "visual_genome")

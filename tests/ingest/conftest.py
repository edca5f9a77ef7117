"""Shared helpers for the ingest tests: where the real fixtures and the bundled sample are, and a writer for
small annotation folders (bad records need hand-made bytes, so tests write their own files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from svit_assets.home import SAMPLE_ANNOTATIONS, Home
from svit_assets.ingest.sources import AnnotationSources
from svit_assets.ingest.staging import stage_table

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT_ROOT / ".." / "shared" / "fixtures"


@pytest.fixture
def vg_fixtures() -> Path:
    if not (FIXTURES / "visual_genome" / "image_data.json").is_file():
        pytest.skip(f"real VG/COCO fixtures not found at {FIXTURES.resolve()}")
    return FIXTURES.resolve()


@pytest.fixture
def vg_sample() -> Path:
    if not (SAMPLE_ANNOTATIONS / "visual_genome" / "image_data.json").is_file():
        pytest.skip(f"bundled sample not found at {SAMPLE_ANNOTATIONS}")
    return SAMPLE_ANNOTATIONS


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").ensure()


class Annotations:
    """Builds records in the official key order and writes them like the official files (one line)."""

    @staticmethod
    def image(
        image_id: int, width: int = 100, height: int = 80, coco_id: int | None = None
    ) -> dict[str, Any]:
        return {
            "width": width,
            "url": f"https://example.invalid/{image_id}.jpg",
            "height": height,
            "image_id": image_id,
            "coco_id": coco_id,
            "flickr_id": None,
        }

    @staticmethod
    def obj(
        object_id: int, name: str = "thing", x: float = 10, y: float = 10, w: float = 20, h: float = 20
    ) -> dict[str, Any]:
        return {
            "synsets": [f"{name}.n.01"],
            "h": h,
            "object_id": object_id,
            "merged_object_ids": [],
            "names": [name],
            "w": w,
            "y": y,
            "x": x,
        }

    @staticmethod
    def dumps(value: Any) -> bytes:
        return json.dumps(value).encode()

    def write(self, root: Path, **files: Any) -> Path:
        """`visual_genome/<name>.json`, or `coco/<name>.json` for captions_*/instances_*; bytes are written
        as given, anything else JSON-encoded."""
        for name, content in files.items():
            folder = root / ("coco" if name.startswith(("captions_", "instances_")) else "visual_genome")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.json").write_bytes(
                content if isinstance(content, bytes) else self.dumps(content)
            )
        return root

    @staticmethod
    def stage(home: Home, root: Path, *tables: str) -> dict:
        sources = AnnotationSources.discover(root)
        return {table: stage_table(home, sources, table) for table in tables}


@pytest.fixture
def ann() -> Annotations:
    return Annotations()

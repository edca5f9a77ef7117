"""Deterministic image batches: the partition keys of every per-batch asset.

Images sorted by id are cut into runs of `batch_size`; a key names its first and last image id, so the keys
are stable for a given image set and batch size, and a key alone tells a batch job which id range to read
(staged tables are sorted by image id, so that range prunes Parquet row groups).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pa_ds

from svit_assets.home import Home
from svit_assets.warehouse import write_parquet_atomic

_KEY = re.compile(r"^b(\d{8,})-(\d{8,})$")


@dataclass(frozen=True)
class Batch:
    key: str
    first_id: int
    last_id: int
    n_images: int


def batch_key(first_id: int, last_id: int) -> str:
    return f"b{first_id:08d}-{last_id:08d}"


def parse_batch_key(key: str) -> tuple[int, int]:
    """(first image id, last image id) of a batch key."""
    m = _KEY.match(key)
    if not m or int(m.group(1)) > int(m.group(2)):
        raise ValueError(f"not a batch key: {key!r} (expected b<first id, 8 digits>-<last id, 8 digits>)")
    return int(m.group(1)), int(m.group(2))


def plan_batches(home: Home, batch_size: int = 1000) -> list[Batch]:
    """Cut the staged images into batches and write `batches.parquet` (image_id, batch)."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    folder = home.staging / "images"
    if not any(folder.glob("*.parquet")):
        raise FileNotFoundError(f"stage images first: no staged images under {folder}")
    ids = np.unique(
        np.asarray(
            pa_ds.dataset(folder, format="parquet").to_table(columns=["image_id"])["image_id"], np.int64
        )
    )
    starts = np.arange(0, ids.size, batch_size)
    batches = [
        Batch(batch_key(int(ids[s]), int(ids[e - 1])), int(ids[s]), int(ids[e - 1]), int(e - s))
        for s, e in zip(starts, np.minimum(starts + batch_size, ids.size), strict=True)
    ]
    keys = np.repeat(np.array([b.key for b in batches], dtype=object), [b.n_images for b in batches])
    write_parquet_atomic(
        pa.table({"image_id": pa.array(ids), "batch": pa.array(keys, pa.string())}),
        home.warehouse / "batches.parquet",
    )
    return batches


def read_batches(home: Home) -> dict[str, int]:
    """The planned batches of the current image set, key → number of images (from `batches.parquet`):
    the instance may still list batches of an earlier image set or batch size."""
    path = home.warehouse / "batches.parquet"
    if not path.exists():
        return {}
    counts = pa_ds.dataset(path, format="parquet").to_table(columns=["batch"])["batch"].value_counts()
    return {item["values"].as_py(): item["counts"].as_py() for item in counts}

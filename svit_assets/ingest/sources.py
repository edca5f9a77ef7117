"""Locate the annotation files of one annotations folder (plain `.json` or the official `.zip` downloads).

The official Visual Genome downloads are `<name>.json.zip` archives and COCO ships several splits, so
discovery maps each source kind to the files (or zip members) that hold it and reports which optional
kinds are absent instead of failing: only `image_data.json` is indispensable, every other table hangs off it.
"""

from __future__ import annotations

import fnmatch
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

VG_DIR = "visual_genome"
COCO_DIR = "coco"

# staged table -> basename of its Visual Genome file
VG_FILES = {
    "images": "image_data",
    "objects": "objects",
    "attributes": "attributes",
    "relationships": "relationships",
    "regions": "region_descriptions",
}
COCO_PATTERNS = {"coco_captions": "captions_*.json", "coco_instances": "instances_*.json"}


class MissingSourceError(FileNotFoundError):
    """A required annotation file is absent; the message names the path that was expected."""


@dataclass(frozen=True)
class SourceFile:
    """One JSON document: a plain file, or a member of a zip archive read by streaming decompression."""

    kind: str
    path: Path
    member: str | None = None
    root: Path | None = None

    @property
    def name(self) -> str:
        """Stable display name (relative to the annotations folder) used in reports and quarantine rows."""
        shown = self.path.relative_to(self.root).as_posix() if self.root else self.path.as_posix()
        return f"{shown}:{self.member}" if self.member else shown

    def open(self) -> BinaryIO:
        if self.member is None:
            return open(self.path, "rb", buffering=0)
        return _MemberStream(self.path, self.member)

    @property
    def size(self) -> int:
        """Uncompressed size in bytes (what the parser reads)."""
        if self.member is None:
            return self.path.stat().st_size
        with zipfile.ZipFile(self.path) as archive:
            return archive.getinfo(self.member).file_size


class _MemberStream(io.RawIOBase):
    """A zip member read by streaming decompression; closing it closes the archive too."""

    def __init__(self, archive: Path, member: str):
        self._zip = zipfile.ZipFile(archive)
        self._member = self._zip.open(member)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._member.read(size)

    def close(self) -> None:
        if not self.closed:
            self._member.close()
            self._zip.close()
        super().close()


@dataclass(frozen=True)
class AnnotationSources:
    root: Path
    files: dict[str, tuple[SourceFile, ...]]
    missing: tuple[str, ...]

    @classmethod
    def discover(cls, root: str | os.PathLike) -> AnnotationSources:
        root = Path(root).expanduser().resolve()
        files: dict[str, tuple[SourceFile, ...]] = {}
        missing: list[str] = []
        vg = root / VG_DIR
        for table, base in VG_FILES.items():
            found = _find_vg(vg, table, base, root)
            if found is None:
                if table == "images":
                    raise MissingSourceError(
                        f"required Visual Genome file not found: {vg / (base + '.json')} "
                        f"(or {base}.json.zip / {base}.zip)"
                    )
                missing.append(f"{VG_DIR}/{base}.json")
                continue
            files[table] = (found,)
        coco = root / COCO_DIR
        for table, pattern in COCO_PATTERNS.items():
            found_coco = _find_coco(coco, table, pattern, root)
            if found_coco:
                files[table] = found_coco
            else:
                missing.append(f"{COCO_DIR}/{pattern}")
        return cls(root=root, files=files, missing=tuple(missing))

    def get(self, table: str) -> tuple[SourceFile, ...]:
        return self.files.get(table, ())

    @property
    def has_coco(self) -> bool:
        return any(table in self.files for table in COCO_PATTERNS)


def _find_vg(folder: Path, table: str, base: str, root: Path) -> SourceFile | None:
    plain = folder / f"{base}.json"
    if plain.is_file():
        return SourceFile(table, plain, root=root)
    for archive in (folder / f"{base}.json.zip", folder / f"{base}.zip"):
        if archive.is_file():
            members = _json_members(archive)
            chosen = [m for m in members if PurePosixPath(m).name == f"{base}.json"] or members
            if len(chosen) != 1:
                raise MissingSourceError(f"{archive}: expected one {base}.json member, found {members}")
            return SourceFile(table, archive, chosen[0], root=root)
    return None


def _find_coco(folder: Path, table: str, pattern: str, root: Path) -> tuple[SourceFile, ...]:
    if not folder.is_dir():
        return ()
    found = [SourceFile(table, p, root=root) for p in sorted(folder.glob(pattern)) if p.is_file()]
    for archive in sorted(folder.glob("*.zip")):
        for member in _json_members(archive):
            if fnmatch.fnmatch(PurePosixPath(member).name, pattern):
                found.append(SourceFile(table, archive, member, root=root))
    return tuple(found)


def _json_members(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as zf:
        return sorted(
            info.filename
            for info in zf.infolist()
            if not info.is_dir()
            and info.filename.endswith(".json")
            and not PurePosixPath(info.filename).name.startswith(".")
            and "__MACOSX" not in info.filename
        )

"""The streaming JSON reader: real files, tiny windows, tricky strings, and precise errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pytest

from svit_assets.ingest.jsonstream import JsonStreamError, iter_raw_chunks, stream_array, stream_object
from svit_assets.ingest.staging import COCO_IMAGES_SPEC, SPECS

VG = {
    "image_data": "images",
    "objects": "objects",
    "attributes": "attributes",
    "relationships": "relationships",
    "region_descriptions": "regions",
}
ROWS = pa.schema(
    [("image_id", pa.int64()), ("text", pa.string()), ("items", pa.list_(pa.struct([("k", pa.int64())])))]
)


def _collect(path: Path, schema: pa.Schema, **kw) -> tuple[list, list]:
    """(rows parsed by pyarrow, values of the elements refused) in element order."""
    rows, slow = {}, []
    for chunk in stream_array(path, schema, **kw):
        table_rows = chunk.table.to_pylist()
        slow_index = {e.index for e in chunk.slow}
        fast_index = [
            i for i in range(chunk.first_index, chunk.first_index + chunk.count) if i not in slow_index
        ]
        assert len(fast_index) == len(table_rows)
        rows.update(zip(fast_index, table_rows, strict=True))
        for element in chunk.slow:
            rows[element.index] = element.value
            slow.append(element)
    return [rows[i] for i in sorted(rows)], slow


@pytest.mark.parametrize("name", sorted(VG))
@pytest.mark.parametrize("chunk_bytes", [97, 4096, 1 << 24])
def test_real_vg_files_parse_like_json_load(vg_fixtures: Path, name: str, chunk_bytes: int) -> None:
    path = vg_fixtures / "visual_genome" / f"{name}.json"
    expected = json.loads(path.read_bytes())
    spec = SPECS[VG[name]]
    rows, slow = _collect(path, spec.element, chunk_bytes=chunk_bytes)
    assert not slow
    assert len(rows) == len(expected)
    image_key = "id" if name == "region_descriptions" else "image_id"
    assert [r[image_key] for r in rows] == [e[image_key] for e in expected]
    if spec.records:
        assert [len(r[spec.records]) for r in rows] == [len(e[spec.records]) for e in expected]
    if name == "relationships":
        subjects = [rel["subject"] for e in rows for rel in e["relationships"]]
        assert any(s["name"] for s in subjects) and any(s["names"] for s in subjects)


def test_real_coco_keys_in_file_order_and_others_skipped(vg_fixtures: Path) -> None:
    path = vg_fixtures / "coco" / "instances_train2014.json"
    expected = json.loads(path.read_bytes())
    schemas = {"images": COCO_IMAGES_SPEC.element, "annotations": SPECS["coco_instances"].element}
    schemas["categories"] = pa.schema([("id", pa.int64()), ("name", pa.string())])
    seen: dict[str, list] = {}
    for chunk in stream_object(path, schemas, chunk_bytes=1000):
        seen.setdefault(chunk.key, []).extend(chunk.table.to_pylist())
    assert list(seen) == ["images", "annotations", "categories"]
    assert [r["id"] for r in seen["images"]] == [i["id"] for i in expected["images"]]
    assert [r["id"] for r in seen["annotations"]] == [a["id"] for a in expected["annotations"]]
    assert seen["annotations"][0]["segmentation"] == expected["annotations"][0]["segmentation"]
    assert [(c["id"], c["name"]) for c in seen["categories"]] == [
        (c["id"], c["name"]) for c in expected["categories"]
    ]


def test_raw_chunks_hold_whole_elements(vg_fixtures: Path) -> None:
    path = vg_fixtures / "visual_genome" / "relationships.json"
    elements = [
        e for chunk in iter_raw_chunks(path, chunk_bytes=5000) for e in json.loads(b"[" + chunk + b"]")
    ]
    assert elements == json.loads(path.read_bytes())
    coco = vg_fixtures / "coco" / "captions_train2014.json"
    captions = [
        e
        for chunk in iter_raw_chunks(coco, key="annotations", chunk_bytes=777)
        for e in json.loads(b"[" + chunk + b"]")
    ]
    assert captions == json.loads(coco.read_bytes())["annotations"]


TRICKY = [
    {"image_id": 1, "text": 'brackets ] } [ { and "quotes"', "items": [{"k": 1}]},
    {"image_id": 2, "text": 'a signature inside a string: }, {"image_id": 9}, {', "items": []},
    {"image_id": 3, "text": 'backslashes \\ \\\\ \\" end\\\\', "items": [{"k": 2}, {"k": 3}]},
    {"image_id": 4, "text": "unicode caf\u00e9 \u2603 \U0001f600", "items": [{"k": 4}]},
    {"image_id": 5, "text": "", "items": [{"k": 5}]},
]


@pytest.mark.parametrize("chunk_bytes", [64, 65, 150, 1 << 20])
@pytest.mark.parametrize("indent", [None, 2])
def test_strings_with_brackets_quotes_and_escapes(
    tmp_path: Path, chunk_bytes: int, indent: int | None
) -> None:
    path = tmp_path / "tricky.json"
    path.write_text(json.dumps(TRICKY * 7, indent=indent, ensure_ascii=indent is None))
    rows, slow = _collect(path, ROWS, chunk_bytes=chunk_bytes)
    assert not slow
    assert rows == TRICKY * 7


def test_nested_objects_with_the_top_level_first_key(tmp_path: Path) -> None:
    """Nested objects that start like top-level ones make signature cuts wrong; the parse catches it."""
    data = [
        {"image_id": i, "items": [{"image_id": i * 10, "k": j} for j in range(i % 4)]} for i in range(200)
    ]
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(data))
    schema = pa.schema(
        [
            ("image_id", pa.int64()),
            ("items", pa.list_(pa.struct([("image_id", pa.int64()), ("k", pa.int64())]))),
        ]
    )
    for chunk_bytes in (200, 3000):
        rows, slow = _collect(path, schema, chunk_bytes=chunk_bytes)
        assert rows == data and not slow


def test_refused_elements_are_parsed_by_python(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(
        b'[{"image_id": 1, "text": "ok", "items": []}, '
        b'{"image_id": "two", "text": "wrong type", "items": []}, '
        b'{"image_id": 3, "text": "bad \xff\xfe utf8", "items": []}, '
        b'{"image_id": 4, "text": "nan", "items": [{"k": 1}], "x": NaN}, '
        b'{"image_id": 5, "text": "inf", "items": [], "y": 1e999}, '
        b'{"image_id": 6, "text": "ok", "items": []}]'
    )
    for chunk_bytes in (40, 1 << 20):
        rows, slow = _collect(path, ROWS, chunk_bytes=chunk_bytes)
        assert [r["image_id"] for r in rows] == [1, "two", 3, 4, 5, 6]
        refused = {e.index: e for e in slow}
        assert {1, 2, 4} <= set(refused)
        assert rows[2]["text"] == "bad \udcff\udcfe utf8"
        assert refused[2].raw.startswith(b'{"image_id": 3') and refused[2].offset == path.read_bytes().index(
            b'{"image_id": 3'
        )
        assert math.isinf(rows[4]["y"])


@pytest.mark.parametrize("chunk_bytes", [100, 1 << 20])
def test_marked_elements_take_the_python_path(tmp_path: Path, chunk_bytes: int) -> None:
    data = [{"image_id": i, "text": "rle" if i % 3 == 1 else "poly", "items": []} for i in range(12)]
    path = tmp_path / "marked.json"
    raw = json.dumps(data).encode()
    path.write_bytes(raw)
    rows, slow = _collect(path, ROWS, chunk_bytes=chunk_bytes, slow_marker=b'"rle"')
    assert rows == data
    assert [e.index for e in slow] == [1, 4, 7, 10]
    assert all(raw[e.offset : e.offset + len(e.raw)] == e.raw and e.value == data[e.index] for e in slow)


def _error(path: Path, data: bytes, chunk_bytes: int = 1 << 20) -> JsonStreamError:
    path.write_bytes(data)
    with pytest.raises(JsonStreamError) as info:
        for _ in stream_array(path, ROWS, chunk_bytes=chunk_bytes):
            pass
    assert path.name in str(info.value) and "byte" in str(info.value)
    return info.value


GOOD = b'[{"image_id": 1, "text": "a", "items": []}, {"image_id": 2, "text": "b", "items": []}, {"image_id": 3, "text": "c", "items": []}]'


@pytest.mark.parametrize("chunk_bytes", [50, 1 << 20])
def test_truncated_file_names_file_and_position(tmp_path: Path, chunk_bytes: int) -> None:
    cut = GOOD.index(b'{"image_id": 3') + 10
    err = _error(tmp_path / "truncated.json", GOOD[:cut], chunk_bytes)
    assert err.offset == cut and err.index == 2
    assert "truncated" in str(err) and "element 2" in str(err)
    err = _error(tmp_path / "no_end.json", GOOD[:-1], chunk_bytes)
    assert err.offset == len(GOOD) - 1


@pytest.mark.parametrize(
    ("data", "offset", "index"),
    [
        (GOOD.replace(b'"text": "b"', b'"text" "b"'), GOOD.index(b'"text": "b"') + 7, 1),
        (GOOD.replace(b"}, {", b"} {", 1), GOOD.index(b"}, {") + 1, 1),
        (GOOD.replace(b"}]", b"}, ]"), len(GOOD) - 1, None),
        (
            GOOD.replace(b'"items": []}, {"image_id": 2', b'"items": []}}, {"image_id": 2'),
            GOOD.index(b"}, {") + 1,
            1,
        ),
        (GOOD + b" trailing", len(GOOD) + 1, None),
        (b"{}", 0, None),
    ],
    ids=["missing-colon", "missing-comma", "trailing-comma", "extra-brace", "trailing-data", "not-an-array"],
)
def test_broken_syntax_names_position_and_element(
    tmp_path: Path, data: bytes, offset: int, index: int | None
) -> None:
    err = _error(tmp_path / "broken.json", data)
    assert err.offset == offset
    if index is not None:
        assert err.index == index

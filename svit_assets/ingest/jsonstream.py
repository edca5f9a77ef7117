"""Stream the elements of a huge JSON array in bounded memory, parsed by a C parser.

Visual Genome files are single-line JSON arrays of 0.4–0.7 GB and COCO files one object holding such arrays;
`json.load` needs about ten times the file size in RAM and builds millions of Python objects. Here a window of
`chunk_bytes` is cut at a top-level element boundary, the separators between its elements are turned into
newlines (same length, so byte offsets survive) and pyarrow's JSON reader parses the window straight into
Arrow columns with an explicit schema. Python touches only the rare elements pyarrow refuses.

Finding boundaries cheaply: the bytes from one element's closing brace to the first key of the next (e.g.
`}, {"image_id"`) are learned from the first two elements. In valid JSON that signature cannot lie inside a
string (its `{"` would end the string and leave a bare word), so a match is a top-level boundary or a nested
object with the same first key; the latter breaks the parse or the row count, which verify every window. The
exact method, a vectorised numpy scan of quotes, backslashes and brackets, learns the signature, finds array
ends and takes over whenever a window does not verify; it also pins errors to a byte offset and element index.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json

DEFAULT_CHUNK_BYTES = 4 << 20
_WS = b" \t\r\n"
_KEY = re.compile(rb'"((?:[^"\\]|\\.)*)"[ \t\r\n]*:')
_FIRST_KEY = re.compile(rb'\{[ \t\r\n]*"(?:[^"\\]|\\.)*"')
_SCALAR = re.compile(rb'"(?:[^"\\]|\\.)*"|[-+0-9.eE]+|true|false|null|NaN|-?Infinity')

# byte classes for the exact scan: 1 quote, 2 backslash, 3 opening bracket, 4 closing bracket
_CLASS = np.zeros(256, np.uint8)
_CLASS[ord('"')] = 1
_CLASS[ord("\\")] = 2
_CLASS[[ord("{"), ord("[")]] = 3
_CLASS[[ord("}"), ord("]")]] = 4


class JsonStreamError(ValueError):
    """The document is truncated or not valid JSON; names the file, the byte offset and the element."""

    def __init__(self, source: str, offset: int, index: int | None, detail: str):
        where = f"byte {offset}" + (f", element {index}" if index is not None else "")
        super().__init__(f"{source}: {detail} at {where}")
        self.source, self.offset, self.index, self.detail = source, offset, index, detail


class Openable(Protocol):
    name: str

    def open(self) -> BinaryIO: ...


@dataclass(frozen=True)
class _PathSource:
    path: Path

    @property
    def name(self) -> str:
        return str(self.path)

    def open(self) -> BinaryIO:
        return open(self.path, "rb", buffering=0)


@dataclass
class SlowElement:
    """An element the C parser refused (NaN/Infinity, invalid UTF-8, a value of an unexpected type),
    parsed by Python's json with invalid bytes kept as surrogates so the caller can quarantine precisely."""

    index: int
    offset: int
    raw: bytes
    value: Any


@dataclass
class ParsedChunk:
    """One window: `count` elements from element `first_index` (byte `offset`, `nbytes` long); `table` holds
    the rows pyarrow parsed, `slow` the other elements; `key` names the array (COCO) or is None."""

    key: str | None
    offset: int
    first_index: int
    count: int
    nbytes: int
    table: pa.Table
    slow: list[SlowElement] = field(default_factory=list)


def stream_array(
    source: Openable | str | Path,
    schema: pa.Schema,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    slow_marker: bytes | None = None,
) -> Iterator[ParsedChunk]:
    """Elements of a document whose top level is an array, a window at a time."""
    yield from _Stream(_as_source(source), chunk_bytes).array(schema, slow_marker)


def stream_object(
    source: Openable | str | Path,
    schemas: Mapping[str, pa.Schema],
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    slow_marker: bytes | None = None,
) -> Iterator[ParsedChunk]:
    """Elements of the arrays under the given keys of a top-level object (COCO), in file order.

    Other keys are skipped by the exact scan without parsing."""
    yield from _Stream(_as_source(source), chunk_bytes).object(dict(schemas), slow_marker)


def iter_raw_chunks(
    source: Openable | str | Path, *, key: str | None = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[bytes]:
    """Windows of whole elements (comma-separated, unparsed) found by the exact scan only.

    The reference for what a bare parser costs on the same bytes (benchmarks)."""
    stream = _Stream(_as_source(source), chunk_bytes)
    with stream:
        if key is None:
            stream.expect(b"[")
        elif not stream.seek_key(key):
            return
        while True:
            lead = stream.skip_ws()
            if stream.byte(lead) == ord("]"):
                return
            starts, ends, array_end = stream.spans_or_more(lead, chunk_bytes)
            last = int(ends[-1]) + 1 if ends.size else lead
            if ends.size:
                yield stream.buf[lead:last]
            if array_end >= 0:
                return
            stream.drop(last)
            if not stream.separator():
                return


def _as_source(source: Openable | str | Path) -> Openable:
    return _PathSource(Path(source)) if isinstance(source, str | Path) else source


def _structure(
    buf: bytes, depth: int = 0, in_string: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Brackets outside strings in `buf`: (positions, depth after each, is_opening, in_string at the end).

    Backslash runs are resolved first (an odd run escapes the next byte), then the parity of the remaining
    quotes tells whether a bracket sits inside a string. `buf` must not end inside a backslash run."""
    codes = _CLASS[np.frombuffer(buf, np.uint8)]
    pos = np.flatnonzero(codes)
    kind = codes[pos]
    backslash = kind == 2
    if backslash.any():
        runs = pos[backslash]
        new_run = np.ones(runs.size, bool)
        np.not_equal(runs[1:], runs[:-1] + 1, out=new_run[1:])
        idx = np.arange(runs.size)
        run_first = np.maximum.accumulate(np.where(new_run, idx, 0))
        escaped = runs[((idx - run_first) & 1) == 0] + 1
        keep = ~backslash
        hit = np.searchsorted(pos, escaped)
        ok = hit < pos.size
        hit = hit[ok][pos[hit[ok]] == escaped[ok]]
        keep[hit] = False
        pos, kind = pos[keep], kind[keep]
    quote = kind == 1
    parity = np.cumsum(quote, dtype=np.int64)
    if in_string:
        parity += 1
    bracket = ~quote & ((parity & 1) == 0)
    bpos = pos[bracket]
    opening = kind[bracket] == 3
    depths = np.cumsum(np.where(opening, 1, -1), dtype=np.int64) + depth
    ends_in_string = bool(parity[-1] & 1) if parity.size else in_string
    return bpos, depths, opening, ends_in_string


class _Stream:
    """A byte window over one document plus the boundary logic; `buf[0]` sits at file offset `offset`."""

    def __init__(self, source: Openable, chunk_bytes: int):
        self.source = source
        self.name = source.name
        self.chunk_bytes = max(int(chunk_bytes), 64)
        self.buf = b""
        self.offset = 0
        self.eof = False
        self.index = 0
        self.file: BinaryIO | None = None
        self.signature: tuple[bytes, bytes, bytes] | None = None
        self.learned = False

    def __enter__(self) -> _Stream:
        self.file = self.source.open()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()

    # -- window -------------------------------------------------------------------------------------------

    def fill(self, upto: int) -> None:
        """Make `buf[:upto]` available unless the file ends first."""
        if len(self.buf) >= upto or self.eof:
            return
        parts = [self.buf]
        have = len(self.buf)
        while have < upto:
            data = self.file.read(max(upto - have, 1 << 16))
            if not data:
                self.eof = True
                break
            parts.append(data)
            have += len(data)
        self.buf = b"".join(parts)

    def drop(self, k: int) -> None:
        self.buf = self.buf[k:]
        self.offset += k

    def byte(self, i: int) -> int:
        self.fill(i + 1)
        if i >= len(self.buf):
            raise self.error(self.offset + len(self.buf), "unexpected end of file (truncated?)")
        return self.buf[i]

    def skip_ws(self, i: int = 0) -> int:
        while True:
            self.fill(i + 1)
            if i >= len(self.buf):
                return i
            if self.buf[i] not in _WS:
                return i
            stripped = len(self.buf) - len(self.buf[i:].lstrip(_WS))
            i = max(stripped, i + 1)

    def expect(self, token: bytes) -> None:
        i = self.skip_ws()
        if self.byte(i) != token[0]:
            raise self.error(self.offset + i, f"expected {token.decode()!r}, found {chr(self.buf[i])!r}")
        self.drop(i + 1)

    def separator(self) -> bool:
        """After an element: consume `,` (another element follows) or `]` (the array ends)."""
        i = self.skip_ws()
        b = self.byte(i)
        self.drop(i + 1)
        if b == ord(","):
            return True
        if b == ord("]"):
            return False
        raise self.error(self.offset - 1, f"expected ',' or ']' after an element, found {chr(b)!r}")

    def error(self, offset: int, detail: str, index: int | None = None) -> JsonStreamError:
        return JsonStreamError(self.name, offset, self.index if index is None else index, detail)

    # -- exact scan ---------------------------------------------------------------------------------------

    def spans(self, lead: int, limit: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Complete elements in `buf[lead:limit]`, which starts at an element: (starts, ends, array_end).

        Positions are absolute in `buf`; `array_end` is the index of the closing `]` or -1."""
        bpos, depths, opening, _ = _structure(self.buf[lead:limit])
        closing_array = np.flatnonzero(depths < 0)
        array_end = -1
        if closing_array.size:
            cut = int(closing_array[0])
            array_end = lead + int(bpos[cut])
            bpos, depths, opening = bpos[:cut], depths[:cut], opening[:cut]
        starts = bpos[opening & (depths == 1)] + lead
        ends = bpos[~opening & (depths == 0)] + lead
        if array_end >= 0 and self.buf[array_end] != ord("]"):
            raise self.error(self.offset + array_end, "unbalanced '}'", self.index + ends.size)
        return starts, ends, array_end

    def spans_or_more(self, lead: int, target: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Elements from `lead` over about `target` bytes (at least one whole element, or the array end).

        Scans a growing prefix so that finding an array end near `lead` stays cheap; checks that only
        commas and whitespace separate the elements."""
        size = min(1 << 20, target)
        while True:
            self.fill(lead + size)
            limit = min(len(self.buf), lead + size)
            if limit < len(self.buf) or not self.eof:
                while limit > lead and self.buf[limit - 1] == ord("\\"):
                    limit -= 1  # never end the scan inside a backslash run
            starts, ends, array_end = self.spans(lead, limit)
            exhausted = self.eof and limit >= len(self.buf)
            if array_end >= 0 or (ends.size and (limit - lead >= target or exhausted)):
                break
            if exhausted:
                start = int(starts[0]) if starts.size else lead
                raise self.error(
                    self.offset + len(self.buf),
                    f"unexpected end of file inside the element starting at byte {self.offset + start} (truncated?)",
                )
            size *= 4
        starts = starts[: ends.size]
        self._check_gaps(lead, starts, ends, array_end)
        return starts, ends, array_end

    def _check_gaps(self, lead: int, starts: np.ndarray, ends: np.ndarray, array_end: int) -> None:
        if starts.size and starts[0] != lead:
            raise self.error(self.offset + lead, "expected an object or array element")
        for k in range(1, starts.size):
            gap = self.buf[int(ends[k - 1]) + 1 : int(starts[k])]
            if gap.strip(_WS) != b",":
                raise self.error(
                    self.offset + int(ends[k - 1]) + 1,
                    f"unexpected {gap.strip(_WS)[:20]!r} between elements",
                    self.index + k,
                )
        if array_end >= 0:
            tail_from = int(ends[-1]) + 1 if ends.size else lead
            tail = self.buf[tail_from:array_end].strip(_WS)
            if tail:
                raise self.error(
                    self.offset + tail_from, f"unexpected {tail[:20]!r} before ']'", self.index + ends.size
                )

    def skip_value(self, i: int) -> None:
        """Drop the value starting at `buf[i]` (a container is followed by the exact scan across windows)."""
        b = self.byte(i)
        if b not in (ord("{"), ord("[")):
            self.fill(i + (1 << 16))
            m = _SCALAR.match(self.buf, i)
            if not m:
                raise self.error(self.offset + i, "invalid value")
            self.drop(m.end())
            return
        depth, in_string, size = 0, False, 1 << 16
        while True:
            self.fill(i + size)
            limit = min(len(self.buf), i + size)
            if limit < len(self.buf) or not self.eof:
                while limit > i and self.buf[limit - 1] == ord("\\"):
                    limit -= 1  # never end the scan inside a backslash run
            bpos, depths, _, in_string_end = _structure(self.buf[i:limit], depth, in_string)
            done = np.flatnonzero(depths == 0)
            if done.size:
                self.drop(i + int(bpos[done[0]]) + 1)
                return
            if self.eof and limit >= len(self.buf):
                raise self.error(
                    self.offset + len(self.buf), "unexpected end of file inside a value (truncated?)"
                )
            if depths.size:
                depth = int(depths[-1])
            in_string = in_string_end
            self.drop(limit)
            i, size = 0, min(size * 2, self.chunk_bytes)

    def seek_key(self, wanted: str) -> bool:
        """Position after `"wanted": [` in the top-level object, skipping other values; False if absent."""
        for key in self.keys():
            if key == wanted:
                self.expect(b"[")
                return True
            self.skip_value(self.skip_ws())
        return False

    def keys(self) -> Iterator[str]:
        """Top-level keys of an object document; the caller consumes each value before asking for the next."""
        self.expect(b"{")
        first = True
        while True:
            i = self.skip_ws()
            if self.byte(i) == ord("}"):
                self.drop(i + 1)
                return
            if not first:
                if self.buf[i] != ord(","):
                    raise self.error(self.offset + i, f"expected ',' or '}}', found {chr(self.buf[i])!r}")
                i = self.skip_ws(i + 1)
            first = False
            self.fill(i + (1 << 16))
            m = _KEY.match(self.buf, i)
            if not m:
                raise self.error(self.offset + i, "expected a key string")
            self.drop(m.end())
            yield json.loads(b'"' + m.group(1) + b'"')

    # -- element windows ----------------------------------------------------------------------------------

    def array(self, schema: pa.Schema, marker: bytes | None) -> Iterator[ParsedChunk]:
        with self:
            self.expect(b"[")
            yield from self._elements(None, schema, marker)
            i = self.skip_ws()
            self.fill(i + 1)
            if i < len(self.buf):
                raise self.error(self.offset + i, "unexpected data after the top-level array")

    def object(self, schemas: dict[str, pa.Schema], marker: bytes | None) -> Iterator[ParsedChunk]:
        with self:
            for key in self.keys():
                i = self.skip_ws()
                if key in schemas and self.byte(i) == ord("["):
                    self.drop(i + 1)
                    self.index, self.signature, self.learned = 0, None, False
                    yield from self._elements(key, schemas[key], marker)
                else:
                    self.skip_value(i)

    def _elements(self, key: str | None, schema: pa.Schema, marker: bytes | None) -> Iterator[ParsedChunk]:
        lead = self.skip_ws()
        if self.byte(lead) == ord("]"):
            self.drop(lead + 1)
            return
        while True:
            self.fill(lead + self.chunk_bytes)
            if not self.learned:
                self._learn(lead)
            chunk = self._fast(key, schema, marker, lead) if self.signature else None
            array_end = -1
            if chunk is None:
                chunk, array_end = self._exact(key, schema, marker, lead)
            self.index += chunk.count
            yield chunk
            if array_end >= 0:
                self.drop(array_end + 1)
                return
            if not self.separator():
                return
            lead = self.skip_ws()
            if self.byte(lead) == ord("]"):
                raise self.error(self.offset + lead, "trailing comma before ']'")

    def _learn(self, lead: int) -> None:
        """Learn the boundary signature from the first two elements (exact scan of a short prefix)."""
        self.learned = True
        starts, ends, _ = self.spans_or_more(lead, 1 << 16)
        if ends.size < 2:
            return
        e0, s1 = int(ends[0]), int(starts[1])
        m = _FIRST_KEY.match(self.buf, s1)
        if not m:
            return
        gap = self.buf[e0 + 1 : s1]
        raw = self.buf[e0 : m.end()]
        normal = _one_line(raw)
        comma = 1 + gap.index(b",")
        self.signature = (raw, normal, normal[:comma] + b"\n" + normal[comma + 1 :])

    def _fast(
        self, key: str | None, schema: pa.Schema, marker: bytes | None, lead: int
    ) -> ParsedChunk | None:
        """Cut at the last signature in the window and parse; None when the window does not verify."""
        raw_sig, normal_sig, newline_sig = self.signature
        cut = self.buf.rfind(raw_sig, lead)
        if cut <= lead:
            return None
        raw = self.buf[lead : cut + 1]
        body = _one_line(raw).replace(normal_sig, newline_sig)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
        slow: list[SlowElement] = []
        expected = body.count(b"\n") + 1
        if marker is not None and marker in body:
            body, lines = _drop_marked(body, marker)
            for start, stop, index in lines:
                element = raw[start:stop]
                skip = len(element) - len(element.lstrip(_WS))
                slow.append(
                    self._python(element.strip(_WS), self.offset + lead + start + skip, self.index + index)
                )
            expected -= len(lines)
        try:
            table = _parse(body, schema) if expected else schema.empty_table()
        except _PARSE_ERRORS:
            return None
        if table.num_rows != expected:
            return None
        chunk = ParsedChunk(key, self.offset + lead, self.index, expected + len(slow), len(raw), table, slow)
        self.drop(cut + 1)
        return chunk

    def _exact(
        self, key: str | None, schema: pa.Schema, marker: bytes | None, lead: int
    ) -> tuple[ParsedChunk, int]:
        """Parse the window's elements found by the exact scan; isolate what pyarrow refuses."""
        starts, ends, array_end = self.spans_or_more(lead, self.chunk_bytes)
        n = int(ends.size)
        stop = int(ends[-1]) + 1 if n else lead
        text = _one_line(self.buf[lead:stop])
        starts, ends = starts - lead, ends - lead + 1
        slow_idx: set[int] = set()
        pos = 0
        while pos < len(text):
            try:
                text[pos:].decode("utf-8")
                break
            except UnicodeDecodeError as err:
                bad = int(np.searchsorted(starts, pos + err.start, side="right")) - 1
                slow_idx.add(bad)
                pos = int(ends[bad])
        if marker is not None and marker in text:
            slow_idx.update(k for k in range(n) if marker in text[int(starts[k]) : int(ends[k])])
        good = [k for k in range(n) if k not in slow_idx]
        tables, refused = _parse_groups(text, good, starts, ends, schema)
        base = self.offset + lead
        slow = [
            self._python(
                self.buf[lead + int(starts[k]) : lead + int(ends[k])], base + int(starts[k]), self.index + k
            )
            for k in sorted(slow_idx.union(refused))
        ]
        table = pa.concat_tables(tables) if tables else schema.empty_table()
        chunk = ParsedChunk(key, base, self.index, n, stop - lead, table, slow)
        self.drop(stop)
        return chunk, (array_end - stop if array_end >= 0 else -1)

    def _python(self, raw: bytes, offset: int, index: int) -> SlowElement:
        text = raw.decode("utf-8", "surrogateescape")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            at = offset + len(text[: err.pos].encode("utf-8", "surrogateescape"))
            raise JsonStreamError(self.name, at, index, f"invalid JSON: {err.msg}") from None
        return SlowElement(index, offset, raw, value)


def _drop_marked(body: bytes, marker: bytes) -> tuple[bytes, list[tuple[int, int, int]]]:
    """Remove the lines (elements) containing `marker`; returns the rest and (start, stop, line number) of
    each removed line. Visits only the matches, not every line: marked elements are rare."""
    removed: list[tuple[int, int, int]] = []
    kept: list[bytes] = []
    line, prev, counted = 0, 0, 0
    at = body.find(marker)
    while at >= 0:
        start = body.rfind(b"\n", 0, at) + 1
        stop = body.find(b"\n", at)
        stop = len(body) if stop < 0 else stop
        line += body.count(b"\n", counted, start)
        removed.append((start, stop, line))
        kept.append(body[prev:start])
        prev, counted = stop + 1, stop
        at = body.find(marker, prev)
    kept.append(body[prev:])
    return b"".join(kept), removed


def _one_line(raw: bytes) -> bytes:
    """Newlines can only be whitespace between tokens in JSON: blank them (same length) so that the only
    newlines are the element separators the row parser splits on."""
    if b"\n" in raw or b"\r" in raw:
        return raw.replace(b"\n", b" ").replace(b"\r", b" ")
    return raw


def _parse_groups(
    text: bytes, members: list[int], starts: np.ndarray, ends: np.ndarray, schema: pa.Schema
) -> tuple[list[pa.Table], list[int]]:
    """Parse elements together, halving groups that fail until the refused elements are isolated."""
    if not members:
        return [], []
    body = b"\n".join(text[int(starts[k]) : int(ends[k])] for k in members)
    try:
        table = _parse(body, schema)
        if table.num_rows == len(members):
            return [table], []
    except _PARSE_ERRORS:
        pass
    if len(members) == 1:
        return [], members
    half = len(members) // 2
    left_tables, left_refused = _parse_groups(text, members[:half], starts, ends, schema)
    right_tables, right_refused = _parse_groups(text, members[half:], starts, ends, schema)
    return left_tables + right_tables, left_refused + right_refused


_PARSE_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError)


def _parse(body: bytes, schema: pa.Schema) -> pa.Table:
    return pa_json.read_json(
        pa.BufferReader(body),
        read_options=pa_json.ReadOptions(use_threads=False, block_size=max(len(body) + 1, 1 << 16)),
        parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )

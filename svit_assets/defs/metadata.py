"""Materialisation metadata shared by every asset: row counts, column schema, a Markdown preview, reasons."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

PREVIEW_ROWS = 5
PREVIEW_CELL_CHARS = 80


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


def markdown_preview(table: pa.Table, rows: int = PREVIEW_ROWS) -> str:
    """A small Markdown table; long or nested cells are shortened so the UI stays readable."""
    if table.num_rows == 0:
        return "_no rows_"
    head = table.slice(0, rows).to_pylist()
    names = table.schema.names

    def cell(value: Any) -> str:
        text = str(value).replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= PREVIEW_CELL_CHARS else text[: PREVIEW_CELL_CHARS - 1] + "…"

    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(cell(row[n]) for n in names) + " |" for row in head]
    return "\n".join(lines)


def table_metadata(table: pa.Table, path: Path | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "dagster/row_count": table.num_rows,
        "dagster/column_schema": column_schema(table.schema),
        "preview": dg.MetadataValue.md(markdown_preview(table)),
    }
    if path is not None:
        metadata["path"] = dg.MetadataValue.path(str(path))
    return metadata


def counts_markdown(title: str, counts: Mapping[str, int]) -> dg.MetadataValue:
    if not counts:
        return dg.MetadataValue.md(f"**{title}**: none")
    rows = "\n".join(f"| {k} | {v:,} |" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    return dg.MetadataValue.md(f"| {title} | count |\n|---|---|\n{rows}")

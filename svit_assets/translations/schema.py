"""The translation layer's contract with the rest of the pipeline: languages, record schemas and paths.

Exports, catalog views and the Dagster assets read translated records through this module only, so the
translators can change without touching their readers.

A translated record keeps the identity of its English record (image, task, conversation index, turn index)
and its boxes unchanged. References (`<st>name<ed> [x1, y1, x2, y2]`) may move when a language reorders a
sentence: `reference_order[k]` is the index, among the English record's references (question first, then
answer, in text order), of the k-th reference of the translated question-then-answer text. Exports whose
meaning depends on position (region-referring: the k-th `<region>` takes the k-th mask) use it.
"""

from __future__ import annotations

import pyarrow as pa

from svit_assets.home import Home

SOURCE_LANGUAGE = "en"
# The MIMIC-IT set; English stays the source.
LANGUAGES: tuple[str, ...] = ("zh", "ja", "ko", "de", "fr", "es", "ar")
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "zh": "Simplified Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "ar": "Arabic",
}

TRANSLATION_RECORDS_SCHEMA = pa.schema(
    [
        pa.field("image_id", pa.int64(), nullable=False),
        pa.field("batch", pa.string()),
        pa.field("task", pa.string()),
        pa.field("language", pa.string()),
        pa.field("conversation_index", pa.int32()),
        pa.field("turn_index", pa.int32()),
        pa.field("topic", pa.string()),
        pa.field("question", pa.string()),
        pa.field("answer", pa.string()),
        pa.field("boxes", pa.list_(pa.list_(pa.float64()))),  # the English record's, unchanged
        pa.field("box_refs", pa.list_(pa.string())),  # the English record's, unchanged
        pa.field("reference_order", pa.list_(pa.int32())),
        pa.field("source_hash", pa.string()),  # sha256 of the English topic/question/answer
        pa.field("backend", pa.string()),  # llm | google | deepl | microsoft | mymemory | libre | …
        pa.field("model", pa.string()),
        pa.field("prompt_version", pa.string()),
        pa.field("request_key", pa.string()),
        pa.field("language_score", pa.float64()),  # detector confidence for the target language
        pa.field("chrf", pa.float64()),  # round-trip chrF when this record was sampled, else null
        pa.field("flags", pa.list_(pa.string())),
        pa.field("prompt_tokens", pa.int64()),
        pa.field("completion_tokens", pa.int64()),
        pa.field("cost_usd", pa.float64()),
    ]
)

TRANSLATION_QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("image_id", pa.int64(), nullable=False),
        pa.field("batch", pa.string()),
        pa.field("task", pa.string()),
        pa.field("language", pa.string()),
        pa.field("conversation_index", pa.int32()),
        pa.field("turn_index", pa.int32()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("raw_output", pa.string()),
        pa.field("source_question", pa.string()),
        pa.field("source_answer", pa.string()),
        pa.field("backend", pa.string()),
        pa.field("request_key", pa.string()),
        pa.field("attempt", pa.int32()),
    ]
)


def translation_file(home: Home, task: str, language: str, batch: str):
    """`warehouse/translations/<task>/<language>/<batch>.parquet`."""
    return home.partition_file(f"translations/{task}/{language}", batch)


def translation_quarantine_file(home: Home, task: str, language: str, batch: str):
    """`warehouse/quarantine/translation_<task>/<language>/<batch>.parquet`."""
    return home.warehouse / "quarantine" / f"translation_{task}" / language / f"{batch}.parquet"

"""Prompt folders (`prompts/<task>/`) turned into chat messages and a structured-output response format.

A folder holds `system.md`, worked `examples/*.json` ({"context", "output"}), the output `schema.json` and,
for instruction-style tasks, `instructions.txt`. Its version is a short hash over every file in it, stored on
each generated record, so a dataset row can always be traced to the exact prompt text that produced it and
an edited prompt yields new cache keys instead of silently reusing old completions.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from svit_assets.home import PROMPTS_DIR


@dataclass(frozen=True)
class PromptPack:
    task: str
    system: str
    examples: tuple[tuple[str, dict], ...]  # (context text, output JSON object)
    schema: dict
    instructions: tuple[str, ...]
    version: str


def folder_version(folder: Path) -> str:
    """12 hex digits of sha256 over (relative path, content) of every file, in sorted path order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


@functools.cache
def load_prompt_pack(task: str, root: Path = PROMPTS_DIR) -> PromptPack:
    folder = root / task
    if not (folder / "system.md").is_file():
        raise FileNotFoundError(f"no prompt folder for task {task!r} at {folder}")
    examples = []
    for path in sorted((folder / "examples").glob("*.json")):
        example = json.loads(path.read_text())
        examples.append((example["context"], example["output"]))
    instructions_file = folder / "instructions.txt"
    instructions = (
        tuple(line.strip() for line in instructions_file.read_text().splitlines() if line.strip())
        if instructions_file.is_file()
        else ()
    )
    return PromptPack(
        task=task,
        system=(folder / "system.md").read_text().strip(),
        examples=tuple(examples),
        schema=json.loads((folder / "schema.json").read_text()),
        instructions=instructions,
        version=folder_version(folder),
    )


def build_messages(pack: PromptPack, context_text: str) -> tuple[dict, ...]:
    """System prompt, each worked example as a user/assistant exchange, then this image's context."""
    messages = [{"role": "system", "content": pack.system}]
    for context, output in pack.examples:
        messages.append({"role": "user", "content": context})
        messages.append({"role": "assistant", "content": json.dumps(output, ensure_ascii=False)})
    messages.append({"role": "user", "content": context_text})
    return tuple(messages)


def reask_messages(messages: tuple[dict, ...], raw_text: str, problem: str) -> tuple[dict, ...]:
    """The conversation so far plus the rejected answer and why, so the model can correct itself."""
    extra = []
    if raw_text.strip():
        extra.append({"role": "assistant", "content": raw_text})
    extra.append(
        {
            "role": "user",
            "content": f"That answer was rejected: {problem}. Write it again, following every rule, and reply "
            "with only the JSON object described in the instructions.",
        }
    )
    return (*messages, *extra)


def response_format(pack: PromptPack) -> dict:
    return {"type": "json_schema", "json_schema": {"name": pack.task, "schema": pack.schema, "strict": True}}


def pick_instruction(pack: PromptPack, image_id: int, seed: int = 0) -> str:
    """The instruction an instruction-style record is filed under; stable per (image, seed)."""
    if not pack.instructions:
        return ""
    digest = hashlib.sha256(f"{pack.task}:{image_id}:{seed}".encode()).digest()
    return pack.instructions[int.from_bytes(digest[:8], "big") % len(pack.instructions)]

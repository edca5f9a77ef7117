"""The offline grounded generator: task outputs written from the annotations alone, with no model.

Used when no LLM endpoint is configured, so `svit demo` builds a real dataset on a machine without
network. ``generate_offline`` returns the same JSON object an LLM returns for the task (see
docs/architecture.md, "Task outputs"), so one parser and one set of validators handle both.
"""

from __future__ import annotations

import random

from svit_assets.annotations import ImageAnnotations

from .assemble import conversations, referring
from .describe import describe
from .reasoning import reasoning_qa
from .scene import Scene

# Bump whenever the text produced for the same input changes; it is recorded on every offline record.
OFFLINE_GENERATOR_VERSION = "offline-2"
OFFLINE_TASKS = ("conversation", "complex_reasoning", "detail_description", "referring_qa")


def generate_offline(task: str, image: ImageAnnotations, *, seed: int = 0) -> dict:
    """The task's JSON output for one image; the same (task, image, seed) always gives the same output."""
    if task not in OFFLINE_TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(OFFLINE_TASKS)}")
    rng = random.Random(f"{seed}:{image.image_id}:{task}")
    scene = Scene(image)
    if task == "conversation":
        return {"conversations": conversations(scene, rng)}
    if task == "complex_reasoning":
        return {"qa": reasoning_qa(scene, rng)}
    if task == "detail_description":
        return {"description": describe(scene, rng)}
    return {"qa": referring(scene, rng)}


__all__ = ["OFFLINE_GENERATOR_VERSION", "OFFLINE_TASKS", "generate_offline"]

"""The Dagster code location: `dagster dev`, `dg dev` and `svit` all load `defs` from here."""

from __future__ import annotations

import dagster as dg

from svit_assets.defs.llm_resource import LLMResource
from svit_assets.defs.raw import image_annotations, staging_assets
from svit_assets.defs.resources import AnnotationsResource, WarehouseResource
from svit_assets.defs.tasks import task_assets
from svit_assets.home import Home
from svit_assets.settings import RunSettings


def build_definitions(home: Home, settings: RunSettings) -> dg.Definitions:
    return dg.Definitions(
        assets=[*staging_assets, image_annotations, *task_assets],
        resources={
            "warehouse": WarehouseResource(home_dir=str(home.root)),
            "annotations": AnnotationsResource(directory=settings.annotations_dir, batch_size=settings.batch_size),
            "llm": LLMResource(),
        },
    )


_home = Home.resolve()
defs = build_definitions(_home, RunSettings.load(_home))

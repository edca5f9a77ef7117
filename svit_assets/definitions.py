"""The Dagster code location: `dagster dev`, `dg dev` and `svit` all load `defs` from here."""

from __future__ import annotations

import dagster as dg

from svit_assets.defs.llm_resource import LLMResource
from svit_assets.defs.partitions import image_batches
from svit_assets.defs.raw import BATCH_GROUP, RAW_GROUP, image_annotations, staging_assets
from svit_assets.defs.resources import AnnotationsResource, WarehouseResource
from svit_assets.defs.tasks import TASK_GROUP, task_assets
from svit_assets.home import Home
from svit_assets.settings import RunSettings

# Jobs to launch from the UI: stage everything once, then backfill any set of image batches.
stage_annotations_job = dg.define_asset_job("stage_annotations", selection=dg.AssetSelection.groups(RAW_GROUP))
image_batch_job = dg.define_asset_job(
    "process_image_batches",
    selection=dg.AssetSelection.groups(BATCH_GROUP, TASK_GROUP),
    partitions_def=image_batches,
)


def build_definitions(home: Home, settings: RunSettings) -> dg.Definitions:
    return dg.Definitions(
        assets=[*staging_assets, image_annotations, *task_assets],
        jobs=[stage_annotations_job, image_batch_job],
        resources={
            "warehouse": WarehouseResource(home_dir=str(home.root)),
            "annotations": AnnotationsResource(directory=settings.annotations_dir, batch_size=settings.batch_size),
            "llm": LLMResource(),
        },
    )


_home = Home.resolve()
defs = build_definitions(_home, RunSettings.load(_home))

"""Image batches: the unit of backfills, retries and parallelism for everything downstream of staging."""

import dagster as dg

IMAGE_BATCHES = "image_batches"

image_batches = dg.DynamicPartitionsDefinition(name=IMAGE_BATCHES)

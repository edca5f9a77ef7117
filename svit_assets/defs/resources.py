"""Dagster resources for where the data lives; the LLM endpoint resource sits in `llm_resource.py`."""

from pathlib import Path

import dagster as dg

from svit_assets.home import Home
from svit_assets.ingest.sources import AnnotationSources


class WarehouseResource(dg.ConfigurableResource):
    """The pipeline home: Parquet warehouse, DuckDB catalog and LLM state (Dagster's own instance sits there too)."""

    home_dir: str

    def home(self) -> Home:
        return Home(Path(self.home_dir)).ensure()


class AnnotationsResource(dg.ConfigurableResource):
    """The raw annotation folder (`visual_genome/…`, `coco/…`) and how many images make one partition."""

    directory: str
    batch_size: int = 1000

    def sources(self) -> AnnotationSources:
        return AnnotationSources.discover(Path(self.directory))

"""Run the whole pipeline on an annotations folder against a persistent Dagster instance.

`svit demo` and `svit run` use this: it materialises the staging assets, then every image batch that
staging registered, in the same instance `svit ui` opens, so everything it did is visible in the UI.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from svit_assets.home import Home
from svit_assets.settings import RunSettings

DAGSTER_YAML = """\
# Written by svit: a local, persistent instance for this home.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 2
"""


def prepare_instance_dir(home: Home) -> Path:
    """Point DAGSTER_HOME at the home's instance folder (created with telemetry off) before Dagster loads."""
    home.ensure()
    config = home.dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)
    os.environ["SVIT_HOME"] = str(home.root)
    return home.dagster_home


@dataclass
class StepSummary:
    asset: str
    partition: str | None
    rows: int | None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class RunSummary:
    home: Home
    steps: list[StepSummary]
    partitions: list[str]
    missing_sources: list[str]


def run_pipeline(settings: RunSettings, home: Home, log: Callable[[str], None] = print) -> RunSummary:
    prepare_instance_dir(home)
    settings.save(home)

    import dagster as dg

    from svit_assets.definitions import build_definitions
    from svit_assets.defs.partitions import IMAGE_BATCHES

    defs = build_definitions(home, settings)
    instance = dg.DagsterInstance.get()
    assets = list(defs.assets or [])
    resources = dict(defs.resources or {})
    steps: list[StepSummary] = []

    def record(result: dg.ExecuteInProcessResult, partition: str | None) -> None:
        for event in result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            metadata = mat.metadata
            rows = metadata.get("dagster/row_count")
            steps.append(
                StepSummary(
                    asset=mat.asset_key.to_user_string(),
                    partition=partition,
                    rows=rows.value if rows is not None else None,
                    extra={
                        k: v.value
                        for k, v in metadata.items()
                        if k in ("quarantined", "generator", "qa_pairs", "images", "missing_sources")
                    },
                )
            )

    log(f"Staging annotations from {settings.annotations_dir} …")
    staged = dg.materialize(assets, selection=dg.AssetSelection.groups("raw_annotations"), instance=instance, resources=resources)
    record(staged, None)

    keys = sorted(instance.get_dynamic_partitions(IMAGE_BATCHES))
    wanted = set(_registered_batches(home))
    keys = [k for k in keys if k in wanted]
    batch_selection = dg.AssetSelection.all() - dg.AssetSelection.groups("raw_annotations")
    for i, key in enumerate(keys, 1):
        log(f"Batch {key} ({i}/{len(keys)}) …")
        result = dg.materialize(assets, selection=batch_selection, partition_key=key, instance=instance, resources=resources)
        record(result, key)

    missing = []
    from svit_assets.ingest.sources import AnnotationSources

    missing = list(AnnotationSources.discover(Path(settings.annotations_dir)).missing)
    return RunSummary(home=home, steps=steps, partitions=keys, missing_sources=missing)


def _registered_batches(home: Home) -> list[str]:
    """The batches of the current annotation set (the instance may also know batches of an older set)."""
    from svit_assets.ingest.batches import read_batch_keys

    return read_batch_keys(home)


def format_summary(summary: RunSummary) -> str:
    rows_by_asset: dict[str, int] = {}
    batches_by_asset: dict[str, int] = {}
    for step in summary.steps:
        rows_by_asset[step.asset] = rows_by_asset.get(step.asset, 0) + (step.rows or 0)
        if step.partition is not None:
            batches_by_asset[step.asset] = batches_by_asset.get(step.asset, 0) + 1
    width = max((len(a) for a in rows_by_asset), default=10)
    lines = ["", "Materialized:"]
    for asset, rows in rows_by_asset.items():
        batches = batches_by_asset.get(asset)
        lines.append(f"  {asset:<{width}}  {rows:>10,} rows" + (f"  in {batches} batch(es)" if batches else ""))
    if summary.missing_sources:
        lines.append("Optional files not found (skipped): " + ", ".join(summary.missing_sources))
    home = summary.home
    lines += [
        "",
        f"Image batches: {len(summary.partitions)}",
        f"Warehouse (Parquet): {home.warehouse}",
        f"Catalog (DuckDB):    {home.catalog}",
        f'  try: duckdb {home.catalog} -c "select count(*) from image_annotations"',
        f"Dagster instance:    {home.dagster_home}",
        f"Open the UI:         svit ui --home {home.root}   (then http://127.0.0.1:3000)",
    ]
    return "\n".join(lines)

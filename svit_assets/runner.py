"""Run the whole pipeline on an annotations folder against a persistent Dagster instance.

`svit demo` and `svit run` use this: it materialises the staging assets, then every image batch that
staging registered, in the same instance `svit ui` opens, so everything it did is visible in the UI.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
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


# The run's events all land in the instance (and the UI); the terminal gets warnings and the summary only.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class StepSummary:
    asset: str
    partition: str | None
    rows: int | None
    quarantined: int = 0
    generator: str | None = None


@dataclass
class RunSummary:
    home: Home
    steps: list[StepSummary]
    partitions: list[str]
    missing_sources: list[str]


def run_pipeline(settings: RunSettings, home: Home, log: Callable[[str], None] = print) -> RunSummary:
    from svit_assets.ingest.sources import AnnotationSources

    sources = AnnotationSources.discover(Path(settings.annotations_dir))  # a missing image_data.json fails here
    prepare_instance_dir(home)
    settings.save(home)

    import dagster as dg

    from svit_assets.definitions import build_definitions
    from svit_assets.defs.partitions import IMAGE_BATCHES
    from svit_assets.defs.raw import RAW_GROUP
    from svit_assets.ingest.batches import read_batches

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
            generator = metadata.get("generator")
            quarantined = metadata.get("quarantined")
            steps.append(
                StepSummary(
                    asset=mat.asset_key.to_user_string(),
                    partition=partition,
                    rows=rows.value if rows is not None else None,
                    quarantined=quarantined.value if quarantined is not None else 0,
                    generator=generator.value if generator is not None else None,
                )
            )

    log(f"Staging annotations from {settings.annotations_dir} …")
    if sources.missing:
        log("  optional files not found: " + ", ".join(sources.missing))
    staged = dg.materialize(
        assets, selection=dg.AssetSelection.groups(RAW_GROUP), instance=instance, resources=resources, run_config=QUIET
    )
    record(staged, None)

    current = read_batches(home)
    keys = sorted(k for k in instance.get_dynamic_partitions(IMAGE_BATCHES) if k in current)
    batch_selection = dg.AssetSelection.all() - dg.AssetSelection.groups(RAW_GROUP)
    for i, key in enumerate(keys, 1):
        log(f"Batch {key} ({i}/{len(keys)}) …")
        result = dg.materialize(
            assets, selection=batch_selection, partition_key=key, instance=instance, resources=resources, run_config=QUIET
        )
        record(result, key)

    return RunSummary(home=home, steps=steps, partitions=keys, missing_sources=list(sources.missing))


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
    ingest_q = sum(s.quarantined for s in summary.steps if s.generator is None)
    task_q = sum(s.quarantined for s in summary.steps if s.generator is not None)
    lines.append(f"Quarantined: {ingest_q:,} annotation records (view quarantine), {task_q:,} task outputs (view task_quarantine)")
    generators = sorted({step.generator for step in summary.steps if step.generator})
    if generators:
        offline = " (no LLM endpoint configured)" if generators == ["offline"] else ""
        lines.append(f"Task sets generated by: {', '.join(generators)}{offline}")
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

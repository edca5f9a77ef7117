"""Task-set assets: one per task spec, built by one factory, partitioned by image batch."""

import dagster as dg
import pyarrow.parquet as pq

from svit_assets.annotations import ImageAnnotations
from svit_assets.catalog import CATALOG_VIEWS
from svit_assets.defs.llm_resource import LLMResource
from svit_assets.defs.metadata import counts_markdown, table_metadata
from svit_assets.defs.partitions import image_batches
from svit_assets.defs.resources import WarehouseResource
from svit_assets.home import Home
from svit_assets.tasks.generate import generate_task_batch, task_check_results
from svit_assets.tasks.specs import TASK_SPECS, TaskSpec
from svit_assets.warehouse import refresh_catalog, write_parquet_atomic

TASK_GROUP = "task_sets"


def load_batch(home: Home, batch_key: str) -> list[ImageAnnotations]:
    table = pq.read_table(home.partition_file("image_annotations", batch_key))
    return [ImageAnnotations.from_record(row) for row in table.to_pylist()]


def build_task_asset(spec: TaskSpec) -> dg.AssetsDefinition:
    check_specs = [
        dg.AssetCheckSpec(name, asset=spec.name, blocking=blocking, description=description)
        for name, blocking, description in spec.checks
    ]

    @dg.asset(
        name=spec.name,
        description=spec.description,
        group_name=TASK_GROUP,
        partitions_def=image_batches,
        deps=["image_annotations"],
        kinds={"openai", "parquet"},
        pool="llm",
        automation_condition=dg.AutomationCondition.eager(),
        check_specs=check_specs,
    )
    def _generate(context: dg.AssetExecutionContext, warehouse: WarehouseResource, llm: LLMResource):
        home = warehouse.home()
        batch = context.partition_key
        images = load_batch(home, batch)
        engine = llm.open_engine(home, run_label=f"{spec.name}/{batch}") if llm.configured else None
        if engine is None:
            context.log.info("No LLM endpoint configured (OPENAI_API_KEY / OPENAI_BASE_URL): offline generator")
        result = generate_task_batch(spec, images, engine=engine, batch_key=batch)
        path = home.partition_file(f"tasks/{spec.name}", batch)
        write_parquet_atomic(result.records, path)
        write_parquet_atomic(result.quarantine, home.quarantine_file(f"task_{spec.name}", batch))
        refresh_catalog(home, CATALOG_VIEWS)
        outcomes = task_check_results(result.records, result.quarantine, spec)
        return dg.MaterializeResult(
            metadata={
                **table_metadata(result.records.select(["image_id", "question", "answer"]), path),
                "dagster/row_count": result.records.num_rows,
                "quarantine_reasons": counts_markdown("reason", result.metrics.get("quarantined_by_reason", {})),
                "skip_reasons": counts_markdown("reason", result.metrics.get("skipped_by_reason", {})),
                **{k: v for k, v in result.metrics.items() if isinstance(v, int | float | str)},
                **{f"llm_{k}": v for k, v in result.metrics.get("llm", {}).items()},
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=o.name,
                    passed=o.passed,
                    severity=dg.AssetCheckSeverity(o.severity),
                    metadata=o.metadata,
                )
                for o in outcomes
            ],
        )

    return _generate


task_assets = [build_task_asset(spec) for spec in TASK_SPECS.values()]

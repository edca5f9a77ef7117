"""Raw annotations: one staging asset per source file kind (built by one factory), then per-batch joins."""

from dataclasses import dataclass

import dagster as dg
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from svit_assets.catalog import CATALOG_VIEWS
from svit_assets.defs.metadata import PREVIEW_ROWS, counts_markdown, table_metadata
from svit_assets.defs.partitions import IMAGE_BATCHES, image_batches
from svit_assets.defs.resources import AnnotationsResource, WarehouseResource
from svit_assets.ingest.batches import plan_batches, read_batches
from svit_assets.ingest.join import build_image_annotations
from svit_assets.ingest.staging import stage_table
from svit_assets.warehouse import refresh_catalog

RAW_GROUP = "raw_annotations"
BATCH_GROUP = "image_batches"


@dataclass(frozen=True)
class StagingAsset:
    asset: str
    table: str
    description: str
    deps: tuple[str, ...] = ()


STAGING_ASSETS = (
    StagingAsset("vg_images", "images", "Visual Genome image_data.json: sizes, COCO/Flickr ids. Registers the image batches."),
    StagingAsset("vg_attributes", "attributes", "Visual Genome attributes.json (v1.2 object list with attributes).", ("vg_images",)),
    StagingAsset(
        "vg_objects",
        "objects",
        "Visual Genome objects.json: names, synsets, clipped boxes, attributes merged from attributes.json.",
        ("vg_images", "vg_attributes"),
    ),
    StagingAsset(
        "vg_relationships",
        "relationships",
        "Visual Genome relationships.json: subject–predicate–object, predicates lower-cased (original kept).",
        ("vg_images",),
    ),
    StagingAsset("vg_regions", "regions", "Visual Genome region_descriptions.json: phrases with clipped boxes.", ("vg_images",)),
    StagingAsset("coco_captions", "coco_captions", "COCO captions_*.json: five captions per COCO image.", ("vg_images",)),
    StagingAsset(
        "coco_instances",
        "coco_instances",
        "COCO instances_*.json: category, bbox, polygon or compressed-RLE segmentation.",
        ("vg_images",),
    ),
)


def build_staging_asset(spec: StagingAsset) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.asset,
        group_name=RAW_GROUP,
        deps=list(spec.deps),
        description=spec.description,
        kinds={"parquet", "duckdb"},
        check_specs=[dg.AssetCheckSpec("counts_reconcile", asset=spec.asset, description="read = accepted + quarantined")],
    )
    def _stage(context: dg.AssetExecutionContext, warehouse: WarehouseResource, annotations: AnnotationsResource):
        home = warehouse.home()
        report = stage_table(home, annotations.sources(), spec.table)
        staged = ds.dataset(home.staging / spec.table, format="parquet")
        metadata = {
            **table_metadata(staged.head(PREVIEW_ROWS), home.staging / spec.table),
            "dagster/row_count": staged.count_rows(),
            "source_files": dg.MetadataValue.json(report.source_files),
            "records_read": report.read,
            "accepted": report.accepted,
            "quarantined": report.quarantined_total,
            "quarantine_reasons": counts_markdown("reason", report.quarantined),
            "clipped_boxes": report.clipped,
            "source_mb": round(report.bytes / 1e6, 1),
            "mb_per_s": round(report.mb_per_s, 1),
            "seconds": round(report.seconds, 2),
        }
        if not report.source_files:
            metadata["missing_source"] = "no source file: staged an empty table"
        if spec.table == "images":
            keys = [batch.key for batch in plan_batches(home, annotations.batch_size)]
            known = set(context.instance.get_dynamic_partitions(IMAGE_BATCHES))
            new_keys = [k for k in keys if k not in known]
            if new_keys:
                context.instance.add_dynamic_partitions(IMAGE_BATCHES, new_keys)
            metadata["image_batches"] = len(keys)
            metadata["new_image_batches"] = len(new_keys)
        refresh_catalog(home, CATALOG_VIEWS)
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name="counts_reconcile",
                    passed=report.reconciles,
                    metadata={"read": report.read, "accepted": report.accepted, "quarantined": report.quarantined_total},
                )
            ],
        )

    return _stage


staging_assets = [build_staging_asset(spec) for spec in STAGING_ASSETS]


@dg.asset(
    partitions_def=image_batches,
    group_name=BATCH_GROUP,
    deps=[spec.asset for spec in STAGING_ASSETS],
    kinds={"parquet", "duckdb"},
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[dg.AssetCheckSpec("counts_reconcile", asset="image_annotations", description="every image of the batch accepted or quarantined")],
)
def image_annotations(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One record per image of the batch: objects (with attributes), relationships, regions, and COCO captions
    and instances joined through coco_id — the input of every task generator."""
    home = warehouse.home()
    report = build_image_annotations(home, context.partition_key)
    refresh_catalog(home, CATALOG_VIEWS)
    table = pq.read_table(report.path)
    in_batch = read_batches(home).get(context.partition_key, 0)
    quarantined = sum(report.quarantined.values())
    return dg.MaterializeResult(
        metadata={
            **table_metadata(table.select(["image_id", "width", "height", "coco_id", "captions"]), report.path),
            "dagster/row_count": table.num_rows,
            "images_in_batch": in_batch,
            "objects": report.objects,
            "relationships": report.relationships,
            "regions": report.regions,
            "captions": report.captions,
            "instances": report.instances,
            "quarantined": quarantined,
            "quarantine_reasons": counts_markdown("reason", report.quarantined),
            "seconds": report.seconds,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="counts_reconcile",
                passed=in_batch == table.num_rows + quarantined,
                metadata={"images": in_batch, "accepted": table.num_rows, "quarantined": quarantined},
            )
        ],
    )

"""Every view of the DuckDB catalog, in one place: the ingest tables, the task sets, their quarantines and
the LLM cost ledger (globs relative to the warehouse)."""

from svit_assets.tasks.specs import TASK_SPECS
from svit_assets.warehouse import CORE_VIEWS, View

CATALOG_VIEWS: dict[str, View | str] = {
    **CORE_VIEWS,
    **{task: f"tasks/{task}/*.parquet" for task in TASK_SPECS},
    "task_quarantine": View("quarantine/*/*.parquet", r"/quarantine/task_[^/]+/[^/]+\.parquet$"),
    "llm_ledger": "../llm/ledger/*.parquet",
}

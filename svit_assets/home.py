"""Where a pipeline's state lives: one home folder holds the Dagster instance, the warehouse and the catalog.

Every layer resolves paths through :class:`Home` so that `svit demo`, `svit ui`, `dagster dev` and the
tests agree on one layout and a temporary home isolates a test completely.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = PROJECT_ROOT / ".svit"
SAMPLE_ANNOTATIONS = PROJECT_ROOT / "data" / "sample"
PROMPTS_DIR = PROJECT_ROOT / "prompts"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, root: str | os.PathLike | None = None) -> Home:
        """`--home` wins, then `SVIT_HOME`, then `.svit/` in the project root."""
        chosen = root or os.environ.get("SVIT_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def warehouse(self) -> Path:
        """Parquet files: `staging/<table>/`, `<asset>/<partition>.parquet`, `quarantine/<asset>/…`."""
        return self.root / "warehouse"

    @property
    def staging(self) -> Path:
        return self.warehouse / "staging"

    @property
    def catalog(self) -> Path:
        """DuckDB file holding only views over the warehouse, so partition runs never write to it."""
        return self.root / "svit.duckdb"

    @property
    def llm_dir(self) -> Path:
        """LLM request cache, cost ledger, rate-limit state and batch-job records."""
        return self.root / "llm"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    def table_dir(self, table: str) -> Path:
        return self.warehouse / table

    def partition_file(self, table: str, partition: str) -> Path:
        return self.table_dir(table) / f"{partition}.parquet"

    def quarantine_file(self, asset: str, partition: str = "all") -> Path:
        return self.warehouse / "quarantine" / asset / f"{partition}.parquet"

    def ensure(self) -> Home:
        for path in (self.dagster_home, self.warehouse, self.llm_dir, self.locks):
            path.mkdir(parents=True, exist_ok=True)
        return self

"""What a home was last run with (annotations folder, batch size), so `svit ui` and `dagster dev` on the
same home show the configuration `svit run` used instead of silently falling back to the sample."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from svit_assets.home import SAMPLE_ANNOTATIONS, Home

DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True)
class RunSettings:
    annotations_dir: str = str(SAMPLE_ANNOTATIONS)
    batch_size: int = DEFAULT_BATCH_SIZE

    @staticmethod
    def path(home: Home) -> Path:
        return home.root / "settings.json"

    @classmethod
    def load(cls, home: Home) -> RunSettings:
        path = cls.path(home)
        if not path.exists():
            return cls()
        return cls(**json.loads(path.read_text()))

    def save(self, home: Home) -> None:
        home.root.mkdir(parents=True, exist_ok=True)
        self.path(home).write_text(json.dumps(asdict(self), indent=2) + "\n")

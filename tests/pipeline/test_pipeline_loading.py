"""The code location loads the way users start it: `dagster` via workspace.yaml and `dg` via pyproject."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*command: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SVIT_", "DAGSTER_"))}
    env.update(SVIT_HOME=str(home), DAGSTER_HOME=str(home), DAGSTER_DISABLE_TELEMETRY="1")
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_workspace_yaml_validates(tmp_path: Path):
    result = run(str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml", home=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Validation successful for code location svit_assets.definitions" in result.stderr + result.stdout


def test_dg_lists_every_asset_and_check(tmp_path: Path):
    result = run(str(BIN / "dg"), "list", "defs", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("vg_images", "vg_objects", "coco_instances", "image_annotations", "conversation",
                 "complex_reasoning", "detail_description", "referring_qa", "no_refusal_or_leak"):
        assert name in result.stdout, name

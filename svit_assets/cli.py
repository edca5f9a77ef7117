"""`svit`: run the pipeline on the bundled sample or any annotations folder, open the UI, make synthetic data."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from svit_assets.home import PROJECT_ROOT, SAMPLE_ANNOTATIONS, Home
from svit_assets.settings import DEFAULT_BATCH_SIZE, RunSettings


def _add_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="pipeline home (default: $SVIT_HOME or .svit/ in the project root)")


def cmd_run(args: argparse.Namespace, annotations: Path) -> int:
    from svit_assets.ingest.sources import MissingSourceError
    from svit_assets.runner import format_summary, run_pipeline

    home = Home.resolve(args.home)
    settings = RunSettings(annotations_dir=str(annotations.resolve()), batch_size=args.batch_size)
    try:
        summary = run_pipeline(settings, home)
    except MissingSourceError as error:
        print(f"svit: {error}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from svit_assets.runner import prepare_instance_dir

    home = Home.resolve(args.home)
    prepare_instance_dir(home)
    command = [
        sys.executable, "-m", "dagster", "dev",
        "-w", str(PROJECT_ROOT / "workspace.yaml"),
        "--host", args.host, "--port", str(args.port),
    ]
    print(f"Dagster UI on http://{args.host}:{args.port} (instance: {home.dagster_home})", flush=True)
    os.chdir(PROJECT_ROOT)
    os.execv(sys.executable, command)


def cmd_synth(args: argparse.Namespace) -> int:
    from svit_assets.synth import write_synthetic

    summary = write_synthetic(Path(args.out), args.images, seed=args.seed)
    for key, value in summary.items():
        print(f"{key}: {value:,}" if isinstance(value, int) else f"{key}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="svit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole pipeline on the bundled sample (data/sample)")
    _add_home(demo)
    demo.add_argument("--batch-size", type=int, default=8, help="images per batch (small, to show several partitions)")

    run = sub.add_parser("run", help="run the whole pipeline on an annotations folder")
    run.add_argument("--annotations", required=True, type=Path, help="folder with visual_genome/ and coco/")
    _add_home(run)
    run.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="images per partition")

    ui = sub.add_parser("ui", help="start the Dagster UI on the same instance")
    _add_home(ui)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)

    synth = sub.add_parser("synth", help="write synthetic VG + COCO files with the real distributions")
    synth.add_argument("--images", type=int, required=True)
    synth.add_argument("--out", required=True)
    synth.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        return cmd_run(args, SAMPLE_ANNOTATIONS)
    if args.command == "run":
        return cmd_run(args, args.annotations)
    if args.command == "ui":
        return cmd_ui(args)
    return cmd_synth(args)


if __name__ == "__main__":
    sys.exit(main())

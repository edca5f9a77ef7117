"""Ingest benchmark: our streaming staging against a bare parser and a naive json.load pipeline.

    .venv/bin/python benchmarks/ingest.py [--images N] [--keep DIR] [--repeat R] [--workers W]

One run measures, on the same synthetic files (`svit_assets.synth.write_synthetic`, generated unless --keep
names a folder that already holds them):

* parse-only: `orjson.loads` of the very element windows, no rows built (the parser's speed limit);
* staging: every table, batch planning and a few `image_annotations` batches, in a child process whose
  process tree is sampled for peak RSS (the staging workers are its children);
* baseline: `json.load` of each whole file and Python loops building rows, as the public generation
  scripts do, in a child process.

Each figure is the median of --repeat runs; the machine is shared, so medians rather than best runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from svit_assets.home import Home  # noqa: E402
from svit_assets.ingest.jsonstream import iter_raw_chunks  # noqa: E402
from svit_assets.ingest.sources import AnnotationSources  # noqa: E402

FULL_SCALE = 108_077


def parse_only(root: Path, gc_enabled: bool) -> tuple[float, int]:
    """Seconds spent in orjson.loads over every file's element windows, and the bytes parsed."""
    sources = AnnotationSources.discover(root)
    seconds, nbytes = 0.0, 0
    for table, files in sources.files.items():
        key = None if not table.startswith("coco") else "annotations"
        for source in files:
            keys = [key] if key is None else ["images", "annotations", "categories"]
            for k in keys:
                for chunk in iter_raw_chunks(source, key=k):
                    wrapped = b"[" + chunk + b"]"
                    if not gc_enabled:
                        gc.disable()
                    started = time.perf_counter()
                    orjson.loads(wrapped)
                    seconds += time.perf_counter() - started
                    gc.enable()
                    nbytes += len(chunk)
    return seconds, nbytes


def _staging_job(root: str, home_root: str, workers: int, batches: int, out: multiprocessing.Queue) -> None:
    from svit_assets.ingest.batches import plan_batches
    from svit_assets.ingest.join import build_image_annotations
    from svit_assets.ingest.staging import stage_all

    home = Home(Path(home_root))
    started = time.perf_counter()
    reports = stage_all(home, AnnotationSources.discover(root), workers=workers)
    staged = time.perf_counter()
    plan = plan_batches(home)
    planned = time.perf_counter()
    joins = [build_image_annotations(home, b.key) for b in plan[:batches]]
    done = time.perf_counter()
    out.put(
        {
            "maxrss": _max_rss(),
            "stage_seconds": staged - started,
            "plan_seconds": planned - staged,
            "join_seconds": [j.seconds for j in joins],
            "seconds": done - started,
            "reports": {t: r.as_dict() for t, r in reports.items()},
            "batches": len(plan),
        }
    )


def _baseline_job(root: str, out_dir: str, out: multiprocessing.Queue) -> None:
    """What the public scripts do: json.load each file, loop in Python, build rows, write Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    vg, coco = Path(root) / "visual_genome", Path(root) / "coco"
    sizes = {}

    def clip(image_id: int, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        width, height = sizes[image_id]
        x1, y1 = max(x, 0), max(y, 0)
        return x1, y1, min(x + w, width) - x1, min(y + h, height) - y1

    def load(path: Path) -> object:
        with open(path, "rb") as f:
            return json.load(f)

    def write(name: str, rows: list[dict]) -> None:
        pq.write_table(pa.Table.from_pylist(rows), Path(out_dir) / f"{name}.parquet")

    for image in load(vg / "image_data.json"):
        sizes[image["image_id"]] = (image["width"], image["height"])
    rows = [dict(zip(("image_id", "width", "height"), (i, *s), strict=True)) for i, s in sizes.items()]
    write("images", rows)
    for name, key in (("objects", "objects"), ("attributes", "attributes")):
        rows = []
        for element in load(vg / f"{name}.json"):
            for o in element[key]:
                x, y, w, h = clip(element["image_id"], o["x"], o["y"], o["w"], o["h"])
                names = o.get("names") or [o.get("name")]
                rows.append(
                    {
                        "image_id": element["image_id"],
                        "object_id": o["object_id"],
                        "name": names[0].strip(),
                        "names": names,
                        "synsets": o.get("synsets", []),
                        "attributes": o.get("attributes", []),
                        "x": x,
                        "y": y,
                        "w": w,
                        "h": h,
                    }
                )
        write(name, rows)
    rows = []
    for element in load(vg / "relationships.json"):
        for r in element["relationships"]:
            s, o = r["subject"], r["object"]
            rows.append(
                {
                    "image_id": element["image_id"],
                    "relationship_id": r["relationship_id"],
                    "predicate": " ".join(r["predicate"].lower().split()),
                    "predicate_raw": r["predicate"],
                    "subject_id": s["object_id"],
                    "subject_name": s.get("name") or s["names"][0],
                    "object_id": o["object_id"],
                    "object_name": o.get("name") or o["names"][0],
                    "subject_box": clip(element["image_id"], s["x"], s["y"], s["w"], s["h"]),
                    "object_box": clip(element["image_id"], o["x"], o["y"], o["w"], o["h"]),
                }
            )
    write("relationships", rows)
    rows = []
    for element in load(vg / "region_descriptions.json"):
        for r in element["regions"]:
            x, y, w, h = clip(element["id"], r["x"], r["y"], r["width"], r["height"])
            rows.append(
                {
                    "image_id": element["id"],
                    "region_id": r["region_id"],
                    "phrase": r["phrase"].strip(),
                    "x": x,
                    "y": y,
                    "w": w,
                    "h": h,
                }
            )
    write("regions", rows)
    for path in sorted(coco.glob("captions_*.json")):
        data = load(path)
        write(
            "coco_captions",
            [
                {"coco_id": a["image_id"], "caption_id": a["id"], "caption": a["caption"].strip()}
                for a in data["annotations"]
            ],
        )
    for path in sorted(coco.glob("instances_*.json")):
        data = load(path)
        categories = {c["id"]: c for c in data["categories"]}
        rows = []
        for a in data["annotations"]:
            polygon = isinstance(a["segmentation"], list)
            rows.append(
                {
                    "coco_id": a["image_id"],
                    "annotation_id": a["id"],
                    "category": categories[a["category_id"]]["name"],
                    "bbox": a["bbox"],
                    "iscrowd": bool(a["iscrowd"]),
                    "area": a["area"],
                    "polygons": a["segmentation"] if polygon else None,
                    "rle": None if polygon else json.dumps(a["segmentation"]),
                }
            )
        write("coco_instances", rows)
    out.put({"seconds": time.perf_counter() - started, "maxrss": _max_rss()})


def _max_rss() -> float:
    """Largest peak RSS of this process and its finished children (MiB): what getrusage reports."""
    return (
        max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        / 1024
    )


def in_child(target, *args) -> tuple[dict, float, float]:
    """Run `target` in a spawned process; return its result and the peaks of its process tree's summed RSS
    and summed PSS (MiB; PSS counts the shared library pages once across the processes)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    tree, peak_rss, peak_pss = psutil.Process(proc.pid), 0, 0
    result = None
    while result is None:
        try:
            procs = [tree, *tree.children(recursive=True)]
            infos = [p.memory_full_info() for p in procs]
            peak_rss = max(peak_rss, sum(i.rss for i in infos))
            peak_pss = max(peak_pss, sum(i.pss for i in infos))
        except psutil.Error:
            pass
        try:
            result = queue.get(timeout=0.1)
        except Exception:
            if not proc.is_alive() and queue.empty():
                raise RuntimeError(f"{target.__name__} failed (exit code {proc.exitcode})") from None
    proc.join()
    return result, peak_rss / 2**20, peak_pss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--images", type=int, default=FULL_SCALE // 10, help="synthetic images (full scale: 108077)"
    )
    parser.add_argument(
        "--keep", type=Path, help="folder for the synthetic files, kept (and reused) afterwards"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="staging processes")
    parser.add_argument("--batches", type=int, default=3, help="image_annotations batches to build")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the json.load baseline (needs ~10x RAM)"
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="svit-ingest-bench-"))
    root = args.keep or scratch / "annotations"
    try:
        if not (root / "visual_genome" / "image_data.json").exists():
            from svit_assets.synth import write_synthetic

            print(f"writing {args.images:,} synthetic images to {root} ...", flush=True)
            info = write_synthetic(root, args.images)
            print(f"  {info['total_bytes'] / 1e6:,.0f} MB in {info['seconds']:.0f} s", flush=True)
        sources = AnnotationSources.discover(root)
        total_bytes = sum(f.size for files in sources.files.values() for f in files)
        with open(sources.get("images")[0].path, "rb") as f:
            n_images = f.read().count(b'"image_id"')

        runs: dict[str, list] = {
            key: []
            for key in (
                "parse",
                "parse_nogc",
                "stage",
                "stage_rss",
                "stage_pss",
                "stage_max",
                "base",
                "base_rss",
                "base_max",
            )
        }
        result = {}
        for run in range(args.repeat):
            seconds, parsed = parse_only(root, gc_enabled=True)
            runs["parse"].append(parsed / 1e6 / seconds)
            seconds, parsed = parse_only(root, gc_enabled=False)
            runs["parse_nogc"].append(parsed / 1e6 / seconds)
            home = scratch / f"home-{run}"
            result, rss, pss = in_child(_staging_job, str(root), str(home), args.workers, args.batches)
            shutil.rmtree(home, ignore_errors=True)
            runs["stage"].append(result["stage_seconds"])
            runs["stage_rss"].append(rss)
            runs["stage_pss"].append(pss)
            runs["stage_max"].append(result["maxrss"])
            if not args.no_baseline:
                out = scratch / f"baseline-{run}"
                out.mkdir()
                base, rss, _ = in_child(_baseline_job, str(root), str(out))
                shutil.rmtree(out, ignore_errors=True)
                runs["base"].append(base["seconds"])
                runs["base_rss"].append(rss)
                runs["base_max"].append(base["maxrss"])
            print(
                f"run {run + 1}/{args.repeat}: parse-only {runs['parse'][-1]:.1f} MB/s; staging "
                f"{result['stage_seconds']:.1f} s, peak {runs['stage_rss'][-1]:.0f} MiB"
                + (
                    f"; baseline {runs['base'][-1]:.1f} s, peak {runs['base_rss'][-1]:.0f} MiB"
                    if runs["base"]
                    else ""
                ),
                flush=True,
            )

        med = {k: statistics.median(v) for k, v in runs.items() if v}
        mb = total_bytes / 1e6
        print()
        print(
            f"{n_images:,} images, {mb:,.0f} MB of JSON, {os.cpu_count()} CPUs, medians of {args.repeat} runs"
        )
        print(
            f"{'':34s}{'seconds':>9s}{'images/s':>11s}{'MB/s':>8s}{'tree RSS':>12s}{'tree PSS':>10s}{'max proc':>10s}"
        )
        print(f"{'parse-only orjson (gc on)':34s}{mb / med['parse']:9.1f}{'':>11s}{med['parse']:8.1f}")
        print(
            f"{'parse-only orjson (gc off)':34s}{mb / med['parse_nogc']:9.1f}{'':>11s}{med['parse_nogc']:8.1f}"
        )
        print(
            f"{f'staging ({args.workers} process' + ('es)' if args.workers > 1 else ')'):34s}{med['stage']:9.1f}{n_images / med['stage']:11,.0f}"
            f"{mb / med['stage']:8.1f}{med['stage_rss']:8.0f} MiB{med['stage_pss']:6.0f} MiB{med['stage_max']:6.0f} MiB"
        )
        if runs["base"]:
            print(
                f"{'baseline json.load + loops':34s}{med['base']:9.1f}{n_images / med['base']:11,.0f}"
                f"{mb / med['base']:8.1f}{med['base_rss']:8.0f} MiB{'':10s}{med['base_max']:6.0f} MiB"
            )
        print()
        # the machine is shared: ratios are taken within each run (same load), then the median
        ratio = [mb / t / p for t, p in zip(runs["stage"], runs["parse"], strict=True)]
        ratio_nogc = [mb / t / p for t, p in zip(runs["stage"], runs["parse_nogc"], strict=True)]
        print(
            f"staging MB/s / parse-only MB/s (median of per-run ratios): {statistics.median(ratio):.2f} "
            f"(gc on), {statistics.median(ratio_nogc):.2f} (gc off)"
        )
        if runs["base"]:
            print(
                f"baseline seconds / staging seconds: {med['base'] / med['stage']:.2f}; baseline peak / staging "
                f"peak: {med['base_rss'] / med['stage_rss']:.1f}x (tree RSS), {med['base_rss'] / med['stage_pss']:.1f}x "
                f"(tree PSS), {med['base_max'] / med['stage_max']:.1f}x (largest process)"
            )
        print(
            f"staging + planning + batches: {result['seconds']:.1f} s (last run); "
            f"planning {result['plan_seconds']:.2f} s for {result['batches']} batches; "
            f"image_annotations batches: {', '.join(f'{s:.2f}' for s in result['join_seconds'])} s"
        )
        print("\nlast staging run per table:")
        for table, r in result["reports"].items():
            print(
                f"  {table:15s} {r['seconds']:6.1f} s {r['mb_per_s']:7.1f} MB/s  read {r['read']:>10,}  "
                f"quarantined {r['quarantined_total']:>7,}  clipped {r['clipped']:>7,}  rss {r['peak_rss_mb']:.0f} MiB"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Ingest benchmark: our streaming staging against a bare parser and a naive json.load pipeline.

    .venv/bin/python benchmarks/ingest.py [--images N] [--keep DIR] [--repeat R] [--workers W]

One run measures, on the same synthetic files (`svit_assets.synth.write_synthetic`, generated unless --keep
names a folder that already holds them):

* parse-only: `orjson.loads` of the very element windows, no rows built (the parser's speed limit);
* staging: every table (`stage_all`, one process or a pool of workers by input size), in a child process
  whose process tree is sampled for peak memory (the staging workers are its children);
* batch planning and a few `image_annotations` batches (DuckDB), in a child process of their own;
* baseline: `json.load` of each whole file and Python loops building rows, as the public generation
  scripts do, in a child process.

Peak memory of a tree is reported three ways (see `Peaks`): the sum of each process's peak RSS, the peak of
the summed PSS, and the largest process. Each figure is the median of --repeat runs; the machine is shared,
so medians rather than best runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
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


def _staging_job(root: str, home_root: str, workers: int | None, out: multiprocessing.Queue) -> None:
    from svit_assets.ingest.staging import default_workers, stage_all

    started = time.perf_counter()
    sources = AnnotationSources.discover(root)
    reports = stage_all(Home(Path(home_root)), sources, workers=workers)
    out.put(
        {
            "maxrss": _peak_rss(),
            "workers": workers or default_workers(sources),
            "seconds": time.perf_counter() - started,
            "reports": {t: r.as_dict() for t, r in reports.items()},
        }
    )


def _batches_job(home_root: str, batches: int, out: multiprocessing.Queue) -> None:
    """Batch planning and a few image_annotations batches over the staged tables (DuckDB): a process of its
    own, so that its memory is not charged to staging (the baseline stages only)."""
    from svit_assets.ingest.batches import plan_batches
    from svit_assets.ingest.join import build_image_annotations

    home = Home(Path(home_root))
    started = time.perf_counter()
    plan = plan_batches(home)
    planned = time.perf_counter()
    joins = [build_image_annotations(home, b.key) for b in plan[:batches]]
    out.put(
        {
            "maxrss": _peak_rss(),
            "plan_seconds": planned - started,
            "join_seconds": [j.seconds for j in joins],
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
    out.put({"seconds": time.perf_counter() - started, "maxrss": _peak_rss()})


def _peak_rss() -> float:
    """This process's exact peak RSS (MiB), imported late: the baseline must not pay for staging's imports."""
    from svit_assets.ingest.staging import peak_rss_mib

    return peak_rss_mib()


@dataclass
class Peaks:
    """Peak memory of a process tree (MiB), sampled every 100 ms.

    `summed` adds each process's own peak RSS (an upper bound: shared library pages count once per process);
    `pss` is the peak of the summed PSS (shared pages split between the processes mapping them); `largest`
    is the largest single process. The child measures its own peak exactly (VmHWM); its workers are sampled."""

    summed: float
    pss: float
    largest: float


def in_child(target, *args) -> tuple[dict, Peaks]:
    """Run `target` in a spawned process; return its result and the peaks of its process tree."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    tree, per_process, peak_pss = psutil.Process(proc.pid), {}, 0
    result = None
    while result is None:
        try:
            procs = [tree, *tree.children(recursive=True)]
            infos = {p.pid: p.memory_full_info() for p in procs}
            for pid, info in infos.items():
                per_process[pid] = max(per_process.get(pid, 0), info.rss)
            peak_pss = max(peak_pss, sum(i.pss for i in infos.values()))
        except psutil.Error:
            pass
        try:
            result = queue.get(timeout=0.1)
        except Exception:
            if not proc.is_alive() and queue.empty():
                raise RuntimeError(f"{target.__name__} failed (exit code {proc.exitcode})") from None
    proc.join()
    per_process[proc.pid] = result["maxrss"] * 2**20  # exact (VmHWM) where sampling may miss a spike
    return result, Peaks(
        sum(per_process.values()) / 2**20, peak_pss / 2**20, max(per_process.values()) / 2**20
    )


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
    parser.add_argument(
        "--workers", type=int, help="staging processes (default: stage_all's choice from the input size)"
    )
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
            k: [] for k in ("parse", "parse_nogc", "stage", "stage_mem", "base", "base_mem")
        }
        result, batches, batch_mem = {}, {}, None
        for run in range(args.repeat):
            seconds, parsed = parse_only(root, gc_enabled=True)
            runs["parse"].append(parsed / 1e6 / seconds)
            seconds, parsed = parse_only(root, gc_enabled=False)
            runs["parse_nogc"].append(parsed / 1e6 / seconds)
            home = scratch / f"home-{run}"
            result, mem = in_child(_staging_job, str(root), str(home), args.workers)
            runs["stage"].append(result["seconds"])
            runs["stage_mem"].append(mem)
            if run == args.repeat - 1:
                batches, batch_mem = in_child(_batches_job, str(home), args.batches)
            shutil.rmtree(home, ignore_errors=True)
            if not args.no_baseline:
                out = scratch / f"baseline-{run}"
                out.mkdir()
                base, mem = in_child(_baseline_job, str(root), str(out))
                shutil.rmtree(out, ignore_errors=True)
                runs["base"].append(base["seconds"])
                runs["base_mem"].append(mem)
            print(
                f"run {run + 1}/{args.repeat}: parse-only {runs['parse'][-1]:.1f} MB/s; staging "
                f"{result['seconds']:.1f} s, peak {runs['stage_mem'][-1].summed:.0f} MiB"
                + (
                    f"; baseline {runs['base'][-1]:.1f} s, peak {runs['base_mem'][-1].summed:.0f} MiB"
                    if runs["base"]
                    else ""
                ),
                flush=True,
            )

        med = {k: statistics.median(v) for k, v in runs.items() if v and not k.endswith("_mem")}
        for key in ("stage", "base"):
            for measure in ("summed", "pss", "largest"):
                if runs[f"{key}_mem"]:
                    med[f"{key}_{measure}"] = statistics.median(
                        getattr(m, measure) for m in runs[f"{key}_mem"]
                    )
        mb = total_bytes / 1e6
        workers = result["workers"]
        print()
        print(
            f"{n_images:,} images, {mb:,.0f} MB of JSON, {os.cpu_count()} CPUs, medians of {args.repeat} runs"
        )
        print("peak memory: sum of per-process peak RSS / peak of summed PSS / largest process (MiB)")
        print(
            f"{'':34s}{'seconds':>9s}{'images/s':>11s}{'MB/s':>8s}{'sum RSS':>10s}{'PSS':>8s}{'largest':>9s}"
        )
        print(f"{'parse-only orjson (gc on)':34s}{mb / med['parse']:9.1f}{'':>11s}{med['parse']:8.1f}")
        print(
            f"{'parse-only orjson (gc off)':34s}{mb / med['parse_nogc']:9.1f}{'':>11s}{med['parse_nogc']:8.1f}"
        )
        for key, label in (
            ("stage", f"staging ({workers} process" + ("es)" if workers > 1 else ")")),
            ("base", "baseline json.load + loops"),
        ):
            if runs[key]:
                print(
                    f"{label:34s}{med[key]:9.1f}{n_images / med[key]:11,.0f}{mb / med[key]:8.1f}"
                    f"{med[key + '_summed']:10.0f}{med[key + '_pss']:8.0f}{med[key + '_largest']:9.0f}"
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
                f"peak: {med['base_summed'] / med['stage_summed']:.1f}x (sum RSS), "
                f"{med['base_pss'] / med['stage_pss']:.1f}x (PSS), "
                f"{med['base_largest'] / med['stage_largest']:.1f}x (largest process)"
            )
        print(
            f"planning and image_annotations batches, in a process of their own (last run): planning "
            f"{batches['plan_seconds']:.2f} s for {batches['batches']} batches; batches: "
            f"{', '.join(f'{s:.2f}' for s in batches['join_seconds'])} s; peak {batch_mem.summed:.0f} MiB RSS, "
            f"{batch_mem.pss:.0f} MiB PSS"
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

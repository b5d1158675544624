"""Batch segmentation throughput on dask with 1 and 2 local workers, and the scaling between them.

A batch of N tiles (256x256, cut from the DSB2018 val images, rotated/flipped to reach N) is
written to a temporary folder and segmented by ``fiji_bridge.batch`` exactly as
``fiji-bridge segment`` does it (local cluster, one single-threaded worker process per core).
Each worker is warmed up first (torch imported, model loaded), so the timing is the steady
batch throughput; the cold start (cluster + model) is reported apart. With --repeats, 1- and
2-worker batches alternate and medians are reported.

    python benchmarks/bench_batch.py                 # 200 images, 1 and 2 workers
    python benchmarks/bench_batch.py --images 40 --repeats 3 --diameter 20

Reports images/s, megapixels/s, the speed-up of 2 workers over 1 and the scaling efficiency
(speed-up / 2; target speed-up >= 1.7 on a 2-core machine), with the machine's load average,
and the median CPU time per image of each worker (which other load on the machine does not
inflate, unlike wall-clock time).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import tifffile

from fiji_bridge.batch.engine import close_client, make_client, run_batch
from fiji_bridge.batch.tasks import SegmentOptions, segment_image, segment_jobs
from fiji_bridge.resources import DSB2018

TILE = 256


def make_tiles(val_images: Path, count: int, folder: Path) -> list[Path]:
    """``count`` TILE x TILE RGB tiles from the val images, then their rotations/flips."""
    base = []
    for path in sorted(val_images.glob("*.tif")):
        image = tifffile.imread(path)
        for y in range(0, image.shape[0] - TILE + 1, TILE):
            for x in range(0, image.shape[1] - TILE + 1, TILE):
                base.append(image[y : y + TILE, x : x + TILE])
    paths = []
    for i in range(count):
        variant, tile = divmod(i, len(base))
        image = np.rot90(base[tile], variant % 4)
        if variant % 8 >= 4:
            image = image[:, ::-1]
        paths.append(folder / f"tile_{i:04d}.tif")
        tifffile.imwrite(paths[-1], np.ascontiguousarray(image))
    return paths


def _warm_up() -> int:
    """Load torch and the model in a worker; return its torch thread count."""
    import torch

    from fiji_bridge.batch.engine import limit_threads
    from fiji_bridge.nucleaizer.inference import load_model

    limit_threads()
    load_model()
    return torch.get_num_threads()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_once(client, tiles: list[Path], outdir: Path, options: SegmentOptions) -> tuple[float, float, list[int], float]:
    """Seconds and megapixels of one batch on a warm cluster, images per worker, and the
    median CPU seconds a worker spent per image."""
    jobs, _ = segment_jobs(tiles, outdir)
    report = run_batch(jobs, partial(segment_image, options=options), outdir=outdir,
                       options=asdict(options), client=client, progress=False)
    if report.failed or report.done != len(tiles):
        sys.exit(f"benchmark batch failed: {report.failed}")
    shutil.rmtree(outdir)
    return report.seconds, report.megapixels, sorted(report.by_worker.values()), statistics.median(report.job_cpu_seconds)


def measure(tiles: list[Path], work: Path, options: SegmentOptions, repeats: int) -> dict[int, dict]:
    """Median steady throughput with 1 and 2 workers. Only one cluster exists at a time (an idle
    second cluster would take CPU from the measured one); 1- and 2-worker batches alternate, so
    load that comes and goes on a shared machine hits both alike."""
    cold: dict[int, tuple[float, list[int]]] = {}
    runs: dict[int, list] = {1: [], 2: []}
    for repeat in range(repeats):
        for workers in (1, 2):
            started = time.perf_counter()
            client = make_client(None, workers)
            try:
                threads = client.run(_warm_up)
                cold.setdefault(workers, (time.perf_counter() - started, sorted(threads.values())))
                runs[workers].append(run_once(client, tiles, work / f"out_{workers}_{repeat}", options))
            finally:
                close_client(client)
            print(f"  repeat {repeat + 1}, {workers} worker(s): {runs[workers][-1][0]:.1f} s "
                  f"(load average {_load()})", flush=True)
    results = {}
    for workers, rs in runs.items():
        seconds = statistics.median(r[0] for r in rs)
        results[workers] = {
            "seconds": seconds, "images_per_s": len(tiles) / seconds, "megapixels_per_s": rs[0][1] / seconds,
            "all_seconds": [round(r[0], 1) for r in rs], "by_worker": rs[0][2],
            "cold_start_s": cold[workers][0], "torch_threads": cold[workers][1],
            "cpu_s_per_image": statistics.median(r[3] for r in rs),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DSB2018, help="the dsb2018 folder")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=1, help="batches per worker count (median)")
    parser.add_argument("--diameter", type=float, default=None, help="fixed diameter (default: estimated)")
    parser.add_argument("--tta", action="store_true")
    args = parser.parse_args()

    options = SegmentOptions(diameter=args.diameter, tta=args.tta)
    work = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        (work / "tiles").mkdir()
        tiles = make_tiles(args.data / "val" / "images", args.images, work / "tiles")
        print(f"{len(tiles)} tiles of {TILE}x{TILE} ({len(tiles) * TILE * TILE / 1e6:.1f} MP), options {asdict(options)}, "
              f"{os.cpu_count()} cores, load average {_load()}", flush=True)
        results = measure(tiles, work, options, args.repeats)
        for workers, r in results.items():
            print(f"{workers} worker(s): {r['images_per_s']:.2f} images/s, {r['megapixels_per_s']:.3f} MP/s "
                  f"(median of {r['all_seconds']} s; cold start {r['cold_start_s']:.1f} s; "
                  f"torch threads per worker {r['torch_threads']}; images per worker {r['by_worker']}; "
                  f"median CPU time per image {r['cpu_s_per_image']:.3f} s)")
        speedup = results[2]["images_per_s"] / results[1]["images_per_s"]
        print(f"speed-up 2 vs 1 worker: {speedup:.2f}x, scaling efficiency {speedup / 2:.0%} "
              f"(target >= 1.70x: {'met' if speedup >= 1.7 else 'NOT met'}; load average {_load()})")
        cpu_ratio = results[2]["cpu_s_per_image"] / results[1]["cpu_s_per_image"]
        print(f"CPU time per image, 2 workers vs 1: {cpu_ratio:.2f}x (1.00 = no cost from running two "
              f"workers side by side; wall-clock scaling also needs two otherwise idle cores)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

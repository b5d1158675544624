"""Timing of labels_to_annotations / annotations_to_labels (medians of repeated runs).

Data: every DSB2018 val mask (per-image medians summed into one figure) and a synthetic
2048 x 2048 label image with 10,000 labels (and one with ~70,000 labels).
Run: nice -n 5 .venv/bin/python benchmarks/bench_rois.py [repeats, default 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import tifffile
from skimage.segmentation import expand_labels

from fiji_bridge.resources import DSB2018
from fiji_bridge.rois import annotations_to_labels, labels_to_annotations

DSB_MASKS = sorted((DSB2018 / "val" / "masks").glob("*.tif"))


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synthetic(side: int, count: int, radius: int, seed: int = 0) -> np.ndarray:
    """Seeds at random places grown into touching blobs (Voronoi-like cells within radius)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((side, side), np.int32)
    labels[rng.integers(0, side, count), rng.integers(0, side, count)] = np.arange(1, count + 1)
    return expand_labels(labels, radius)


def bench(name: str, labels: np.ndarray, repeats: int) -> tuple[float, float, int]:
    anns = labels_to_annotations(labels)
    values = [int(a.name) for a in anns]
    assert np.array_equal(annotations_to_labels(anns, labels.shape, values=values), labels), name
    to_anns = median_seconds(lambda: labels_to_annotations(labels), repeats)
    to_labels = median_seconds(lambda: annotations_to_labels(anns, labels.shape, values=values), repeats)
    return to_anns, to_labels, len(anns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repeats", nargs="?", type=int, default=5, help="timed runs per mask (median)")
    repeats = parser.parse_args().repeats
    rows = []
    total_a = total_l = 0.0
    total_n = 0
    for path in DSB_MASKS:
        a, l, n = bench(path, tifffile.imread(path), repeats)
        total_a, total_l, total_n = total_a + a, total_l + l, total_n + n
    rows.append((f"dsb2018 val, {len(DSB_MASKS)} masks (sum of medians)", total_n, total_a, total_l))
    for side, count, radius in ((1024, 2000, 8), (2048, 10_000, 8), (2048, 70_000, 3)):
        labels = synthetic(side, count, radius)
        a, l, n = bench(f"{side}x{side}", labels, repeats)
        rows.append((f"synthetic {side}x{side}, int32", n, a, l))
    print(f"{'data':48s} {'labels':>7s} {'labels->ROIs':>13s} {'ROIs->labels':>13s}")
    for name, n, a, l in rows:
        print(f"{name:48s} {n:7d} {a * 1e3:10.1f} ms {l * 1e3:10.1f} ms")
    print(f"median of {repeats} runs each")


if __name__ == "__main__":
    main()

"""Benchmark: numpy <-> ImagePlus and Python <-> ROI Manager through fiji_bridge.

Run under a display (the ROI Manager needs one):  xvfb-run -a .venv/bin/python benchmarks/bench_bridge.py
Reports medians; image rates sit next to a plain numpy copy of the same bytes.
Targets (issue 2): >= 1 GB/s each way for 2048 x 2048 uint16 and float32; 10,000 polygon
ROIs <= 0.5 s each way.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import fiji_bridge
from fiji_bridge.annotation import Annotation


def median_seconds(fn: Callable[[], object], repeats: int, keep: bool = False) -> float:
    """Median wall time of ``fn`` after one warm-up call. With ``keep`` the results stay alive
    until the end, so every call writes to new memory (as a real caller keeping results does)."""
    fn()
    times, kept = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if keep:
            kept.append(result)
        del result
    return statistics.median(times)


def random_polygons(count: int, seed: int = 0) -> list[Annotation]:
    """Nucleus-like polygons (20-60 vertices, radius 5-15 px) spread over a 2048 x 2048 image."""
    rng = np.random.default_rng(seed)
    anns = []
    for i in range(count):
        n = int(rng.integers(20, 61))
        angle = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = rng.uniform(5, 15) * rng.uniform(0.8, 1.0, n)
        cx, cy = rng.uniform(20, 2028, 2)
        anns.append(Annotation(np.stack([cx + radius * np.cos(angle), cy + radius * np.sin(angle)], axis=1).round(2),
                               name=f"{i + 1:04d}", group=int(i % 4), position=1))
    return anns


def bench_images(repeats: int) -> None:
    from fiji_bridge.ij.images import imageplus_to_numpy, numpy_to_imageplus

    rng = np.random.default_rng(1)
    print("GB/s, medians; 'reused' = results dropped at once so memory is recycled, "
          "'new' = results kept so every call faults in new pages")
    print(f"{'2048x2048':<10}{'numpy copy reused/new':>24}{'numpy->ImagePlus reused/new':>30}"
          f"{'ImagePlus->numpy reused/new':>30}")
    for dtype in (np.uint16, np.float32):
        data = (rng.random((2048, 2048)) * 60000).astype(dtype)
        imp = numpy_to_imageplus(data)
        assert np.array_equal(imageplus_to_numpy(imp), data)
        gb = data.nbytes / 1e9
        cells = []
        for fn in (data.copy, lambda: numpy_to_imageplus(data), lambda: imageplus_to_numpy(imp)):
            reused = gb / median_seconds(fn, repeats)
            new = gb / median_seconds(fn, min(repeats, 10), keep=True)
            cells.append(f"{reused:6.2f} / {new:5.2f}")
        print(f"{np.dtype(dtype).name:<10}{cells[0]:>24}{cells[1]:>30}{cells[2]:>30}")


def bench_rois(count: int, repeats: int) -> None:
    from fiji_bridge.ij import rois

    anns = random_polygons(count)
    for label, helper in (("Java helper", rois.java_helper()), ("pure JPype", None)):
        if label == "Java helper" and helper is None:
            print("Java helper: not available (no javac?)")
            continue
        saved = list(rois._helper_cache)
        rois._helper_cache[:] = [helper]
        try:
            to_manager = median_seconds(lambda: rois.rois_to_manager(None, anns, clear=True), repeats)
            back = rois.rois_from_manager(None)
            assert len(back) == count and np.allclose(back[7].polygon, anns[7].polygon, atol=1e-4)
            from_manager = median_seconds(lambda: rois.rois_from_manager(None), repeats)
        finally:
            rois._helper_cache[:] = saved
        print(f"{count} polygon ROIs, {label:<12} Python->ROI Manager {to_manager:.3f} s   "
              f"ROI Manager->Python {from_manager:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rois", type=int, default=10_000)
    args = parser.parse_args()
    fiji_bridge.start(mode="interactive")
    bench_images(args.repeats)
    bench_rois(args.rois, max(3, args.repeats // 3))


if __name__ == "__main__":
    main()

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


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
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
    print(f"{'image 2048x2048':<22}{'numpy copy':>14}{'numpy->ImagePlus':>20}{'ImagePlus->numpy':>20}")
    for dtype in (np.uint16, np.float32):
        data = (rng.random((2048, 2048)) * 60000).astype(dtype)
        imp = numpy_to_imageplus(data)
        assert np.array_equal(imageplus_to_numpy(imp), data)
        gb = data.nbytes / 1e9
        copy = gb / median_seconds(data.copy, repeats)
        to_ij = gb / median_seconds(lambda: numpy_to_imageplus(data), repeats)
        to_np = gb / median_seconds(lambda: imageplus_to_numpy(imp), repeats)
        print(f"{np.dtype(dtype).name:<22}{copy:>10.2f} GB/s{to_ij:>15.2f} GB/s{to_np:>15.2f} GB/s"
              f"   (ratios to copy {to_ij / copy:.2f}, {to_np / copy:.2f})")


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

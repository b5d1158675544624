"""Cross-check fiji_bridge.rois against real ImageJ 1.x (ij.jar through JPype, headless), on more
data than tests/test_rois_imagej.py, whose checks it runs:

1. Label images -> write_roiset -> ImageJ RoiDecoder: names, positions, types, and masks equal to
   the labels (all dsb val masks and 20 random label images).
2. ImageJ ThresholdToSelection of every label of the same images -> RoiEncoder -> read_roiset ->
   annotation_mask: ImageJ's own masks.
3. Random polygon, freehand, traced, composite and rectangle ROIs (float vertices, many ties):
   ImageJ's masks of the same ROIs, and of them written by write_roiset, equal annotation_mask.
4. ImageJ ovals, rectangles, float polygons and open shapes through .roi files both ways.

Run: .venv/bin/python benchmarks/crosscheck_rois_imagej.py [dsb val masks, default all] [random ROIs, default 5000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import jpype
import numpy as np
import tifffile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from fiji_bridge.resources import DSB2018  # noqa: E402
from test_rois_imagej import (  # noqa: E402  (the checks live with the tests)
    check_imagej_shapes, check_open_shapes, check_random_annotations, check_threshold_to_selection,
    check_written_by_fiji_bridge, noise_labels, random_area_annotations,
)

MASKS = sorted((DSB2018 / "val" / "masks").glob("*.tif"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=len(MASKS), help="val masks to check")
    parser.add_argument("random_rois", nargs="?", type=int, default=5000, help="random ROIs to check")
    args = parser.parse_args()
    count, random_rois = args.count, args.random_rois
    jpype.startJVM("-Djava.awt.headless=true", classpath=["/usr/share/java/ij.jar"], convertStrings=True)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        written = read = composite = 0
        images = [tifffile.imread(p) for p in MASKS[:count]] + [noise_labels(rng) for _ in range(20)]
        for labels in images:
            written += check_written_by_fiji_bridge(labels, folder)
            n, c = check_threshold_to_selection(labels, folder)
            read, composite = read + n, composite + c
        for start in range(0, random_rois, 500):
            check_random_annotations(random_area_annotations(rng, min(500, random_rois - start), 30), (36, 36), folder)
        shapes = check_imagej_shapes(rng, folder) + check_open_shapes(folder)
    print(f"ImageJ agrees: {written} ROIs written by fiji_bridge, {read} ThresholdToSelection ROIs ({composite} "
          f"composite) from {count} dsb val masks + 20 random label images; {random_rois} random float "
          f"polygon/freehand/traced/composite/rectangle ROIs; {shapes} oval/rectangle/polygon/line/point ROIs")


if __name__ == "__main__":
    main()

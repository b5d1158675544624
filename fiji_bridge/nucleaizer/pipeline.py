"""``segment_nuclei``: nucleAIzer's inference pipeline around the bundled U-Net.

1. Input rules: grey -> 3 channels, > 3 channels -> first 3, intensities stretched
   (1st..99.8th percentile) to [0, 1].
2. Size: ``diameter`` given ("manual size") or estimated by pre-segmentation (``size.py``);
   the image is rescaled so nuclei reach the model's target diameter, but large nuclei are not
   shrunk below ``MIN_SCALE`` while they fit the sizes trained on (``segmentation_scale``).
   When the last pre-segmentation already covered the whole image at that scale, its maps
   are reused.
3. The image is cut into overlapping blocks (core ``BLOCK`` px at model scale plus a
   ``MARGIN`` px border, larger than a nucleus). Each block is rescaled, run through the
   network (optionally with 8-fold flip/rotation TTA), its maps are resized back to input
   resolution and post-processed (seeded watershed, small objects removed, small holes
   filled). An object belongs to the block whose core holds its centroid, so objects that
   cross block borders are kept once and whole; memory is bounded by the block size.
4. Labels are renumbered 1..N (uint16, or uint32 above 65535 objects).

Constant images, and images where the size estimation finds no nuclei at any zoom, give an
empty label image and a warning.
"""
from __future__ import annotations

import math
import numbers
import warnings
from pathlib import Path

import numpy as np

from fiji_bridge.errors import InputError
from fiji_bridge.nucleaizer.inference import NucleusModel, as_tensor, load_model, predict_maps, resize_tensor
from fiji_bridge.nucleaizer.model import SCALE_RANGE, TARGET_DIAMETER
from fiji_bridge.nucleaizer.postprocess import SIZE_POSTPROCESSING, PostProcessing, maps_to_labels
from fiji_bridge.nucleaizer.preprocess import check_image, intensity_range, is_constant, normalise, to_three_channels
from fiji_bridge.nucleaizer.size import SCALE_LIMITS, estimate_size

BLOCK = 768
MARGIN = 64
MAX_CORE = 1024
MAX_CHANNELS = 16
MIN_SCALE = 0.65  # tuned on val (0.55 / 0.65 / 0.75), see segmentation_scale
MAX_MODEL_DIAMETER = TARGET_DIAMETER * SCALE_RANGE[1]  # the largest nucleus size trained on: 28 px
POSTPROCESSING = PostProcessing()


def _blocks(length: int, core: int, margin: int) -> list[tuple[int, int, int, int]]:
    """(outer start, core start, core stop, outer stop) covering 0..length."""
    if length <= core + 2 * margin:
        return [(0, 0, length, length)]
    count = math.ceil(length / core)
    edges = np.linspace(0, length, count + 1).round().astype(int)
    return [(max(0, a - margin), a, b, min(length, b + margin)) for a, b in zip(edges[:-1], edges[1:])]


def _centroids(labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per label 0..count: area, mean row, mean column."""
    rows, cols = np.indices(labels.shape, dtype=np.float64)
    flat = labels.ravel()
    area = np.bincount(flat, minlength=count + 1).astype(np.float64)
    safe = np.maximum(area, 1)
    return area, np.bincount(flat, rows.ravel(), count + 1) / safe, np.bincount(flat, cols.ravel(), count + 1) / safe


def _segment_block(model: NucleusModel, block: np.ndarray, scale: float, tta: bool) -> np.ndarray:
    """Labels (input resolution) of one (Y, X, 3) normalised block."""
    shape = (max(2, round(block.shape[0] * scale)), max(2, round(block.shape[1] * scale)))
    maps = predict_maps(model, resize_tensor(as_tensor(block), shape), tta=tta)
    maps = resize_tensor(maps, block.shape[:2]).numpy()
    return maps_to_labels(maps, POSTPROCESSING, area_scale=1.0 / scale**2)


def segmentation_scale(scale: float, diameter: float) -> float:
    """``scale`` raised towards ``MIN_SCALE`` as far as nuclei of ``diameter`` input px stay within
    ``MAX_MODEL_DIAMETER`` px: shrinking an image more than 1.5x loses the 1-2 px gaps between
    touching large nuclei, which then merge."""
    return max(scale, min(MIN_SCALE, MAX_MODEL_DIAMETER / diameter))


def _check_diameter(diameter: object) -> None:
    """None or a positive finite number (numpy scalars included)."""
    if diameter is None:
        return
    if isinstance(diameter, bool) or not isinstance(diameter, numbers.Real) or not (math.isfinite(diameter) and diameter > 0):
        raise InputError(f"diameter must be a positive number of pixels or None, got {diameter!r}")


def diameter_range(net: NucleusModel) -> tuple[float, float]:
    """The nucleus diameters (px) a manual size may give: the zoom range the size estimation
    uses too (a tiny diameter would otherwise ask for an enormous image)."""
    low, high = (net.target_diameter / limit for limit in reversed(SCALE_LIMITS))
    return low, high


def _manual_scale(net: NucleusModel, diameter: float) -> float:
    """The zoom that brings nuclei of ``diameter`` px to the model's size."""
    low, high = diameter_range(net)
    if not low <= diameter <= high:
        raise InputError(
            f"diameter must be between {low:g} and {high:g} pixels (or None to estimate it), got {diameter:g}; "
            "enlarge images of smaller nuclei first, shrink images of larger ones"
        )
    return net.target_diameter / diameter


def _resolve_model(model: NucleusModel | str | Path | None) -> NucleusModel:
    return model if isinstance(model, NucleusModel) else load_model(model)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = check_image(image)
    if image.ndim == 3 and image.shape[2] > MAX_CHANNELS:
        raise InputError(
            f"image: shape {image.shape} has {image.shape[2]} channels on the last axis; "
            "expected (Y, X) or (Y, X, C) with C <= 16 - pass one plane of a stack at a time"
        )
    return to_three_channels(image)


def segment_nuclei(
    image: np.ndarray,
    *,
    diameter: float | None = None,
    tta: bool = False,
    model: NucleusModel | str | Path | None = None,
) -> np.ndarray:
    """Instance labels (Y, X) of the nuclei in a 2-D grey or colour (Y, X, C) image.

    ``diameter``: expected nucleus diameter in pixels; None estimates it. ``tta``: average
    8 flips/rotations. ``model``: weights path or a loaded model (default: bundled).
    Returns uint16 (uint32 if more than 65535 objects), 0 = background, 1..N.
    """
    rgb = _as_rgb(image)
    _check_diameter(diameter)
    height, width = rgb.shape[:2]
    if is_constant(rgb):
        warnings.warn("segment_nuclei: the image is constant (all pixels equal); no nuclei", stacklevel=2)
        return np.zeros((height, width), np.uint16)
    net = _resolve_model(model)
    low, high = intensity_range(rgb)
    ready = None
    if diameter is None:
        estimate = estimate_size(net, (rgb, low, high), SIZE_POSTPROCESSING)
        if estimate is None:
            warnings.warn("segment_nuclei: no nuclei found", stacklevel=2)
            return np.zeros((height, width), np.uint16)
        scale, ready = estimate.scale, None if tta else estimate.maps
        diameter = estimate.diameter
    else:
        diameter = float(diameter)
        scale = _manual_scale(net, diameter)
    if (finer := segmentation_scale(scale, float(diameter))) != scale:
        scale, ready = finer, None
    core, margin = max(1, min(round(BLOCK / scale), MAX_CORE)), max(1, math.ceil(MARGIN / scale))
    rows, cols = _blocks(height, core, margin), _blocks(width, core, margin)
    if ready is not None and len(rows) == len(cols) == 1:
        maps = resize_tensor(ready, (height, width)).numpy()
        return _checked(maps_to_labels(maps, POSTPROCESSING, area_scale=1.0 / scale**2).astype(np.uint32), diameter)
    out = np.zeros((height, width), np.uint32)
    next_label = 1
    for ry0, ry1, ry2, ry3 in rows:
        for cx0, cx1, cx2, cx3 in cols:
            block = _normalised(rgb, low, high, (ry0, ry3), (cx0, cx3))
            labels = _segment_block(net, block, scale, tta)
            count = int(labels.max())
            if count == 0:
                continue
            area, cy, cx = _centroids(labels, count)
            keep = (area > 0) & (cy + ry0 >= ry1) & (cy + ry0 < ry2) & (cx + cx0 >= cx1) & (cx + cx0 < cx2)
            keep[0] = False
            new_ids = np.zeros(count + 1, np.uint32)
            new_ids[keep] = np.arange(next_label, next_label + int(keep.sum()), dtype=np.uint32)
            next_label += int(keep.sum())
            _paste(out[ry0:ry3, cx0:cx3], new_ids[labels], POSTPROCESSING.min_area / scale**2)
    return _checked(out, diameter)


def _checked(labels: np.ndarray, diameter: float) -> np.ndarray:
    """Sequential labels; a warning when there are none."""
    if not labels.any():
        warnings.warn(f"segment_nuclei: no nuclei found at a diameter of {diameter:.3g} px", stacklevel=3)
    return _sequential(labels)


def _paste(target: np.ndarray, labels: np.ndarray, min_area: float) -> None:
    """Paste a block's objects where ``target`` is still free. Where a neighbouring block
    already placed the same nucleus (segmented a little differently), an object keeps only
    what is free; it is dropped when that is under half of it or under ``min_area``."""
    free = (labels > 0) & (target == 0)
    whole = np.bincount(labels.ravel())
    kept = np.bincount(labels[free], minlength=whole.size)
    keep = (kept >= 0.5 * whole) & (kept >= min_area)
    keep[0] = False
    free &= keep[labels]
    target[free] = labels[free]


def _normalised(rgb: np.ndarray, low: float, high: float, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    return normalise(rgb[rows[0] : rows[1], cols[0] : cols[1]], low, high)


def _sequential(labels: np.ndarray) -> np.ndarray:
    """Renumber to 1..N without gaps, in the smallest unsigned type that fits."""
    present = np.flatnonzero(np.bincount(labels.ravel()))
    present = present[present > 0]
    lookup = np.zeros(int(labels.max()) + 1, np.uint32)
    lookup[present] = np.arange(1, present.size + 1, dtype=np.uint32)
    dtype = np.uint16 if present.size <= np.iinfo(np.uint16).max else np.uint32
    return lookup[labels].astype(dtype)

"""nucleAIzer-style nucleus size estimation by pre-segmentation.

The model segments a preview of the image (the whole image, or a central crop, of at most
``PREVIEW_AREA`` pixels at the scale used); the median equivalent diameter of the objects
found gives the scale that brings nuclei to the model's target size. The preview is redone at
that scale until the scale agrees with the estimate within ``AGREEMENT`` (at most
``MAX_ROUNDS`` previews), since nuclei far from the target size are segmented less well.
The first preview is coarse (the image shrunk to about ``START_AREA`` pixels; on val 128x128
beat 256x256 and 96x96): nuclei that look too large to the model are cut into target-sized
pieces, a wrong answer that agrees with itself, while nuclei that look too small merely come
out too small or merged, which the next rounds correct by zooming in. If the first preview
finds nothing, the image is tried zoomed in by ``RETRY_ZOOM`` and its square.

Large objects can also be whole cells with small nuclei inside (brightfield smears): the
coarse start then settles on the cells. So when it settles on objects of at least
``NESTED_CHECK_DIAMETER`` px, the search is repeated from the scale that shows those objects
at ``NESTED_START`` times the target diameter, so nuclei a few times smaller than the cells
come out near the target size whatever the image's scale, with previews of at most
``NESTED_PREVIEW_AREA`` px. On the 14 DSB brightfield images (mean |log(estimate / true median
diameter)|): starting there gives 0.19 at the original scale and 0.20 upscaled 3x, where
starting from the image's own scale gave 0.21 and 1.71 (at 3x it settled on the cells again);
starting 6-10 times the target lost the nuclei of some images; 512x512 previews estimate as
well as 640x640 in less time, 384x384 missed the nuclei of one image. If that search finds
objects under half the size but at least ``NESTED_MIN_DIAMETER`` px, and they cover less than
``NESTED_COVERAGE`` of the large objects' area, they are nuclei inside cells and win. Pieces
of large nuclei cut by the model tile them instead (coverage 0.45-0.95 on val upscaled 3x,
0.05-0.11 for the nuclei of brightfield cells); smaller finds are as often texture as nuclei
(a tissue image of val upscaled 3x gives 7.7 px specks covering 3 % of its nuclei).

When the last preview covered the whole image at the chosen scale its maps are returned, so
``segment_nuclei`` need not run the network again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from fiji_bridge.nucleaizer.inference import NucleusModel, as_tensor, predict_maps, resize_tensor
from fiji_bridge.nucleaizer.postprocess import SIZE_POSTPROCESSING, PostProcessing, maps_to_labels
from fiji_bridge.nucleaizer.preprocess import intensity_range, normalise
from fiji_bridge.nucleaizer.targets import median_diameter

PREVIEW_AREA = 640 * 640
START_AREA = 128 * 128
MAX_ROUNDS = 5
AGREEMENT = 1.15
RETRY_ZOOM = 2.5
SCALE_LIMITS = (1 / 16, 4.0)
NESTED_CHECK_DIAMETER = 60.0
NESTED_COVERAGE = 0.25
NESTED_MIN_DIAMETER = 10.0
NESTED_PREVIEW_AREA = 512 * 512
NESTED_START = 4.0
Image = tuple[np.ndarray, float, float]  # (Y, X, 3) pixels of any type, stretch low, stretch high


@dataclass
class SizeEstimate:
    """Median nucleus diameter (input pixels), the scale to segment at, and maps if already computed."""

    diameter: float
    scale: float
    maps: torch.Tensor | None


@dataclass
class _Preview:
    """One pre-segmentation: median diameter (input px), its objects and the input box (y0, x0, y1, x1) they cover."""

    scale: float
    diameter: float
    labels: np.ndarray
    box: tuple[int, int, int, int]
    maps: torch.Tensor | None

    @property
    def found(self) -> bool:
        return bool(self.labels.any())


def _preview(model: NucleusModel, image: Image, scale: float, params: PostProcessing, area: int) -> _Preview:
    """Pre-segmentation of the whole image, or its central crop of about ``area`` px, at ``scale``."""
    rgb, low, high = image
    height, width = rgb.shape[:2]
    side = int(math.sqrt(area) / scale)
    whole = height * width * scale**2 <= area
    y0, x0 = (0, 0) if whole else (max(0, (height - side) // 2), max(0, (width - side) // 2))
    y1, x1 = (height, width) if whole else (min(height, y0 + side), min(width, x0 + side))
    crop = rgb[y0:y1, x0:x1]
    shape = (max(2, round(crop.shape[0] * scale)), max(2, round(crop.shape[1] * scale)))
    step = max(1, int(1 / (2 * scale)))  # subsample before normalising when shrinking a lot
    maps = predict_maps(model, resize_tensor(as_tensor(normalise(crop[::step, ::step], low, high)), shape))
    labels = maps_to_labels(maps.numpy(), params)
    reusable = whole and step == 1
    return _Preview(scale, median_diameter(labels) / scale, labels, (y0, x0, y1, x1), maps if reusable else None)


def _scale_showing(diameter: float, size: float) -> float:
    """The scale at which objects of ``diameter`` input px look ``size`` px, within SCALE_LIMITS."""
    return float(np.clip(size / diameter, *SCALE_LIMITS))


def _converge(model: NucleusModel, image: Image, scale: float, params: PostProcessing,
              area: int = PREVIEW_AREA) -> tuple[SizeEstimate, _Preview] | None:
    """Previews of at most ``area`` px from ``scale`` on, until the scale agrees with the diameter found;
    None if nothing is found."""
    preview = _preview(model, image, scale, params, area)
    for retry in (scale * RETRY_ZOOM, scale * RETRY_ZOOM**2):
        if preview.found:
            break
        preview = _preview(model, image, min(retry, SCALE_LIMITS[1]), params, area)
    if not preview.found:
        return None
    for done in range(1, MAX_ROUNDS + 1):
        wanted = _scale_showing(preview.diameter, model.target_diameter)
        if max(wanted / preview.scale, preview.scale / wanted) < AGREEMENT:
            return SizeEstimate(preview.diameter, preview.scale, preview.maps), preview
        if done == MAX_ROUNDS:
            break
        following = _preview(model, image, wanted, params, area)
        if not following.found:  # what was found may be noise or texture: look closer once more
            closer = min(max(wanted, preview.scale) * RETRY_ZOOM, SCALE_LIMITS[1])
            following = _preview(model, image, closer, params, area)
            if not following.found:
                break
        preview = following
    return SizeEstimate(preview.diameter, wanted, None), preview


def _coverage(small: _Preview, large: _Preview) -> float:
    """Share of the large objects' area, inside the small preview's box, covered by small objects."""
    y0, x0 = max(small.box[0], large.box[0]), max(small.box[1], large.box[1])
    y1, x1 = min(small.box[2], large.box[2]), min(small.box[3], large.box[3])
    if y1 <= y0 or x1 <= x0:
        return 1.0
    rows, cols = np.arange(y0, y1) + 0.5, np.arange(x0, x1) + 0.5

    def foreground(p: _Preview) -> np.ndarray:
        ys = np.minimum(((rows - p.box[0]) * p.labels.shape[0] / (p.box[2] - p.box[0])).astype(int), p.labels.shape[0] - 1)
        xs = np.minimum(((cols - p.box[1]) * p.labels.shape[1] / (p.box[3] - p.box[1])).astype(int), p.labels.shape[1] - 1)
        return p.labels[np.ix_(ys, xs)] > 0

    large_fg = foreground(large)
    return float((large_fg & foreground(small)).sum() / large_fg.sum()) if large_fg.any() else 1.0


def estimate_size(model: NucleusModel, image: Image, params: PostProcessing = SIZE_POSTPROCESSING) -> SizeEstimate | None:
    """Estimate the nucleus size of ``image`` = (RGB array, low, high intensity); None if no nuclei are found."""
    start = min(1.0, math.sqrt(START_AREA / (image[0].shape[0] * image[0].shape[1])))
    coarse = _converge(model, image, start, params)
    if coarse is None or coarse[0].diameter < NESTED_CHECK_DIAMETER or start == 1.0:
        return None if coarse is None else coarse[0]
    fine_start = _scale_showing(coarse[0].diameter, NESTED_START * model.target_diameter)
    fine = _converge(model, image, fine_start, params, NESTED_PREVIEW_AREA)
    if fine is not None and NESTED_MIN_DIAMETER <= fine[0].diameter < coarse[0].diameter / 2 \
            and _coverage(fine[1], coarse[1]) < NESTED_COVERAGE:
        return fine[0]
    return coarse[0]


def estimate_diameter(model: NucleusModel, rgb: np.ndarray, params: PostProcessing = SIZE_POSTPROCESSING) -> float | None:
    """Median nucleus diameter in pixels of a (Y, X, 3) image; None if no nuclei are found."""
    estimate = estimate_size(model, (rgb, *intensity_range(rgb)), params)
    return None if estimate is None else estimate.diameter

"""nucleAIzer-style nucleus size estimation by pre-segmentation.

The model segments a copy of the image (at most ``PREVIEW_SIDE`` pixels a side, a central
crop for large images); the median equivalent diameter of the objects it finds gives the
scale that brings nuclei to the model's target size. The pre-segmentation is repeated at the
new scale until the estimate agrees with the scale used (at most ``MAX_ROUNDS`` times), since
nuclei far from the target size are segmented less well.
"""
from __future__ import annotations

import math

import numpy as np

from fiji_bridge.nucleaizer.inference import NucleusModel, as_tensor, predict_maps, resize_tensor
from fiji_bridge.nucleaizer.postprocess import PostProcessing, maps_to_labels
from fiji_bridge.nucleaizer.targets import median_diameter

PREVIEW_SIDE = 512
MAX_ROUNDS = 3
AGREEMENT = 1.15
MIN_OBJECTS = 3


def _presegment_diameter(model: NucleusModel, image: np.ndarray, scale: float, params: PostProcessing) -> tuple[float, int]:
    """Median diameter (input pixels) and object count from segmenting ``image`` at ``scale``."""
    height, width = image.shape[:2]
    side = int(PREVIEW_SIDE / scale)
    y0, x0 = max(0, (height - side) // 2), max(0, (width - side) // 2)
    crop = image[y0 : y0 + side, x0 : x0 + side]
    shape = (max(2, round(crop.shape[0] * scale)), max(2, round(crop.shape[1] * scale)))
    maps = predict_maps(model, resize_tensor(as_tensor(crop), shape)).numpy()
    labels = maps_to_labels(maps, params)
    count = int(np.unique(labels).size - 1)
    return median_diameter(labels) / scale, count


def estimate_diameter(model: NucleusModel, image: np.ndarray, params: PostProcessing = PostProcessing()) -> float | None:
    """Median nucleus diameter in pixels of ``image`` ((Y, X, 3) float in [0, 1]); None if no nuclei found."""
    scale = min(1.0, PREVIEW_SIDE / max(image.shape[:2]))
    tried: set[float] = set()
    estimate = None
    for _ in range(MAX_ROUNDS):
        tried.add(round(scale, 4))
        diameter, count = _presegment_diameter(model, image, scale, params)
        if count < MIN_OBJECTS or not math.isfinite(diameter):
            break
        estimate = diameter
        new_scale = model.target_diameter / diameter
        if max(new_scale / scale, scale / new_scale) < AGREEMENT or round(new_scale, 4) in tried:
            break
        scale = new_scale
    return estimate

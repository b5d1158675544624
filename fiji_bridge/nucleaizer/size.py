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
When the last preview covered the whole image at the chosen scale its maps are returned, so
``segment_nuclei`` need not run the network again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from fiji_bridge.nucleaizer.inference import NucleusModel, as_tensor, predict_maps, resize_tensor
from fiji_bridge.nucleaizer.postprocess import PostProcessing, maps_to_labels
from fiji_bridge.nucleaizer.preprocess import intensity_range, normalise
from fiji_bridge.nucleaizer.targets import median_diameter

PREVIEW_AREA = 640 * 640
START_AREA = 128 * 128
MAX_ROUNDS = 5
AGREEMENT = 1.15
RETRY_ZOOM = 2.5
SCALE_LIMITS = (1 / 16, 4.0)
Image = tuple[np.ndarray, float, float]  # (Y, X, 3) pixels of any type, stretch low, stretch high


@dataclass
class SizeEstimate:
    """Median nucleus diameter (input pixels), the scale to segment at, and maps if already computed."""

    diameter: float
    scale: float
    maps: torch.Tensor | None


def _preview(model: NucleusModel, image: Image, scale: float, params: PostProcessing) -> tuple[float, int, torch.Tensor | None]:
    """(median diameter in input pixels, object count, maps if the whole image was used) at ``scale``."""
    rgb, low, high = image
    height, width = rgb.shape[:2]
    side = int(math.sqrt(PREVIEW_AREA) / scale)
    whole = height * width * scale**2 <= PREVIEW_AREA
    if whole:
        crop = rgb
    else:
        y0, x0 = max(0, (height - side) // 2), max(0, (width - side) // 2)
        crop = rgb[y0 : y0 + side, x0 : x0 + side]
    shape = (max(2, round(crop.shape[0] * scale)), max(2, round(crop.shape[1] * scale)))
    step = max(1, int(1 / (2 * scale)))  # subsample before normalising when shrinking a lot
    maps = predict_maps(model, resize_tensor(as_tensor(normalise(crop[::step, ::step], low, high)), shape))
    labels = maps_to_labels(maps.numpy(), params)
    reusable = whole and step == 1
    return median_diameter(labels) / scale, int(np.unique(labels).size - 1), maps if reusable else None


def estimate_size(model: NucleusModel, image: Image, params: PostProcessing = PostProcessing()) -> SizeEstimate | None:
    """Estimate the nucleus size of ``image`` = (RGB array, low, high intensity); None if no nuclei are found."""
    scale = min(1.0, math.sqrt(START_AREA / (image[0].shape[0] * image[0].shape[1])))
    diameter, count, maps = _preview(model, image, scale, params)
    for retry in (scale * RETRY_ZOOM, scale * RETRY_ZOOM**2):
        if count:
            break
        scale = min(retry, SCALE_LIMITS[1])
        diameter, count, maps = _preview(model, image, scale, params)
    if not count:
        return None
    for _ in range(MAX_ROUNDS - 1):
        wanted = float(np.clip(model.target_diameter / diameter, *SCALE_LIMITS))
        if max(wanted / scale, scale / wanted) < AGREEMENT:
            return SizeEstimate(diameter, scale, maps)
        scale = wanted
        new_diameter, count, maps = _preview(model, image, scale, params)
        if not count:
            return SizeEstimate(diameter, wanted, None)
        diameter = new_diameter
    wanted = float(np.clip(model.target_diameter / diameter, *SCALE_LIMITS))
    return SizeEstimate(diameter, scale, maps) if max(wanted / scale, scale / wanted) < AGREEMENT else SizeEstimate(diameter, wanted, None)


def estimate_diameter(model: NucleusModel, rgb: np.ndarray, params: PostProcessing = PostProcessing()) -> float | None:
    """Median nucleus diameter in pixels of a (Y, X, 3) image; None if no nuclei are found."""
    estimate = estimate_size(model, (rgb, *intensity_range(rgb)), params)
    return None if estimate is None else estimate.diameter

"""AnnotatorJ's classical region growing (pure numpy/scipy)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

GREY_TOLERANCE = 0.1
RGB_TOLERANCE = (0.2, 0.4, 0.2)
EIGHT = np.ones((3, 3), bool)


def value_range(image: np.ndarray) -> float:
    """The 'max' of AnnotatorJ's rule: 255 for 8-bit, 65535 for 16-bit, the span of the finite
    values (from 0 or below) for float, so NaN or infinite pixels elsewhere do not change it."""
    if image.dtype == np.uint8:
        return 255.0
    if image.dtype == np.uint16:
        return 65535.0
    finite = np.isfinite(image)
    high = float(np.max(image, where=finite, initial=-np.inf))
    low = float(min(np.min(image, where=finite, initial=np.inf), 0))
    span = high - low
    return span if span > 0 else 1.0


def seeds_from(init_region: np.ndarray, closed: bool) -> np.ndarray:
    """Seeds: a closed init eroded once (itself if that leaves nothing); an open line as drawn."""
    if not closed:
        return init_region
    eroded = ndi.binary_erosion(init_region, structure=EIGHT)
    return eroded if eroded.any() else init_region


def grow(crop: np.ndarray, seeds: np.ndarray, max_distance: float, max_value: float) -> np.ndarray:
    """8-connected pixels reached from the seeds with |I - seed mean| <= t * max in every channel
    (t = 0.1 grey, 0.2/0.4/0.2 RGB) and within ``max_distance`` of a seed; holes filled."""
    values = crop.astype(np.float64)
    if values.ndim == 2:
        values = values[..., None]
        tol = np.array([GREY_TOLERANCE])
    else:
        tol = np.array(RGB_TOLERANCE[: values.shape[2]])
    mean = values[seeds].mean(axis=0)
    similar = np.all(np.abs(values - mean) <= tol * max_value, axis=2)
    near = ndi.distance_transform_edt(~seeds) <= max_distance
    labels, _ = ndi.label((similar & near) | seeds, structure=EIGHT)
    reached = np.unique(labels[seeds])
    return ndi.binary_fill_holes(np.isin(labels, reached[reached > 0]))

"""Training targets from an instance label image, and nucleus size measurement."""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import find_boundaries


def equivalent_diameters(labels: np.ndarray) -> np.ndarray:
    """Diameter of the disc with the same area, one value per label present (label order)."""
    areas = np.bincount(labels.ravel())[1:]
    areas = areas[areas > 0]
    return np.sqrt(4.0 * areas / np.pi)


def median_diameter(labels: np.ndarray) -> float:
    """Median equivalent diameter of the objects in ``labels``; NaN when there are none."""
    diameters = equivalent_diameters(labels)
    return float(np.median(diameters)) if diameters.size else float("nan")


def normalised_distance(labels: np.ndarray) -> np.ndarray:
    """Per object: Euclidean distance to the background divided by the object's maximum, in [0, 1]."""
    out = np.zeros(labels.shape, np.float32)
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        padded = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
        inside = labels[padded] == index
        dist = ndi.distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1]
        peak = dist.max()
        if peak > 0:
            out[padded][inside] = (dist / peak)[inside]
    return out


def training_targets(labels: np.ndarray) -> np.ndarray:
    """(3, Y, X) uint8 maps 0..255: foreground, inner boundary, normalised distance."""
    foreground = labels > 0
    boundary = find_boundaries(labels, mode="inner") & foreground
    distance = normalised_distance(labels)
    return np.stack(
        [foreground.astype(np.uint8) * 255, boundary.astype(np.uint8) * 255, np.round(distance * 255).astype(np.uint8)]
    )

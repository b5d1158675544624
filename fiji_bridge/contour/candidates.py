"""From masks in the crop to ranked candidate objects and their pixel-exact outline."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from scipy import ndimage as ndi

from fiji_bridge.annotation import Annotation
from fiji_bridge.rois.labels import annotation_mask, mask_outlines

EIGHT = np.ones((3, 3), bool)
EXISTING_OVERLAP_LIMIT = 0.4  # AnnotatorJ: skip candidates overlapping an existing ROI by > 40 % of their area


def ranked_components(mask: np.ndarray, init_region: np.ndarray, min_area: int = 4) -> Iterator[np.ndarray]:
    """8-connected pieces of ``mask`` (holes filled), most overlap with ``init_region`` first,
    then nearest to it; pieces under ``min_area`` pixels are dropped. Lazy: nothing is computed
    before the first piece is asked for, and each piece is filled only when it is reached."""
    labels, n = ndi.label(mask, structure=EIGHT)
    if n == 0:
        return
    idx = np.arange(1, n + 1)
    area = ndi.sum_labels(np.ones_like(mask, np.int32), labels, idx)
    overlap = ndi.sum_labels(init_region.astype(np.int32), labels, idx)
    if init_region.any():
        nearest = np.asarray(ndi.minimum(ndi.distance_transform_edt(~init_region), labels, idx))
    else:
        nearest = np.zeros(n)
    order = np.lexsort((-area, nearest, -overlap))
    yield from (ndi.binary_fill_holes(labels == idx[i]) for i in order if area[i] >= min_area)


def existing_masks(existing: Sequence[np.ndarray] | None, origin: tuple[int, int],
                   shape: tuple[int, int]) -> list[np.ndarray]:
    """Masks (crop coordinates) of the existing polygons (image xy) that reach into the crop."""
    masks = []
    for poly in existing or ():
        pts = np.asarray(poly, np.float64).reshape(-1, 2) - origin
        if len(pts) < 3 or pts[:, 0].max() <= 0 or pts[:, 1].max() <= 0 \
                or pts[:, 0].min() >= shape[1] or pts[:, 1].min() >= shape[0]:
            continue
        m = annotation_mask(Annotation(pts), shape)
        if m.any():
            masks.append(m)
    return masks


def without_existing(candidates: Iterable[np.ndarray], existing: list[np.ndarray]) -> Iterator[np.ndarray]:
    """Drop candidates that overlap any existing ROI mask by more than 40 % of their area (lazily)."""
    return (c for c in candidates
            if all((c & e).sum() <= EXISTING_OVERLAP_LIMIT * c.sum() for e in existing))


def outline(mask: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """Pixel-edge outline (K, 2) float xy in image coordinates of the largest 4-connected piece."""
    labels, n = ndi.label(mask)
    if n > 1:
        sizes = ndi.sum_labels(np.ones_like(mask, np.int32), labels, np.arange(1, n + 1))
        mask = labels == 1 + int(np.argmax(sizes))
    first = mask_outlines(ndi.binary_fill_holes(mask))[0]
    return first.astype(np.float64) + np.asarray(origin, np.float64)

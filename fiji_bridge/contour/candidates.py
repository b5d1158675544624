"""From masks in the crop to ranked candidate objects and their pixel-exact outline."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from scipy import ndimage as ndi

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats.masks import shifted
from fiji_bridge.rois.labels import annotation_mask, mask_outlines

EIGHT = np.ones((3, 3), bool)
EXISTING_OVERLAP_LIMIT = 0.4  # AnnotatorJ: skip candidates overlapping an existing ROI by > 40 % of their area


def ranked_components(mask: np.ndarray, init_region: np.ndarray, cut: Sequence[bool] = (False,) * 4,
                      min_area: int = 4) -> Iterator[np.ndarray]:
    """8-connected pieces of ``mask`` (holes filled), most overlap with ``init_region`` first,
    then nearest to it; pieces under ``min_area`` pixels are dropped, and so are pieces the init
    does not touch that reach a side of the crop where it ``cut`` the image (left, top, right,
    bottom): they are parts of objects outside the search region. Lazy: nothing is computed
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
    sides = [labels[:, 0], labels[0, :], labels[:, -1], labels[-1, :]]
    truncated = np.zeros(n + 1, bool)
    for side, is_cut in zip(sides, cut):
        if is_cut:
            truncated[side] = True
    order = np.lexsort((-area, nearest, -overlap))
    yield from (ndi.binary_fill_holes(labels == idx[i]) for i in order
                if area[i] >= min_area and (overlap[i] > 0 or not truncated[idx[i]]))


def existing_masks(existing: Sequence[np.ndarray] | np.ndarray | None, origin: tuple[int, int],
                   shape: tuple[int, int]) -> list[np.ndarray]:
    """Masks (crop coordinates) of the existing polygons (image xy) that reach into the crop.

    ``existing``: polygons ((K, 2) or flat x, y, x, y, ... arrays), area Annotations (ROIs with
    holes or several pieces, filled even-odd as ImageJ does), or an (M, K, 2) array of polygons;
    a malformed one raises InputError."""
    if existing is None:
        return []
    if not isinstance(existing, Iterable) or isinstance(existing, np.ndarray) and existing.ndim != 3:
        got = f"an array of shape {existing.shape}" if isinstance(existing, np.ndarray) else repr(existing)
        raise InputError(f"existing must be a list of (K, 2) polygons or an (M, K, 2) array, got {got}")
    masks = []
    for i, item in enumerate(existing):
        ann = shifted(_existing_annotation(item, i), -origin[0], -origin[1])
        pts = np.concatenate(ann.paths)
        if len(ann.polygon) < 3 or pts[:, 0].max() <= 0 or pts[:, 1].max() <= 0 \
                or pts[:, 0].min() >= shape[1] or pts[:, 1].min() >= shape[0]:
            continue
        m = annotation_mask(ann, shape)
        if m.any():
            masks.append(m)
    return masks


def _existing_annotation(item: object, i: int) -> Annotation:
    """Entry ``i`` of ``existing``: an area Annotation as it is (holes stay holes), or a polygon."""
    if isinstance(item, Annotation):
        if not item.is_area:
            raise InputError(f"existing ROI {i} ({item.name or item.roi_type}) is a {item.roi_type}, not an area")
        return item
    return Annotation(_existing_polygon(item, i))


def _existing_polygon(poly: object, i: int) -> np.ndarray:
    """Polygon number ``i`` of ``existing`` as (K, 2) float xy, or InputError."""
    try:
        pts = np.asarray(poly, np.float64)
    except (TypeError, ValueError):
        pts = None
    if pts is None or pts.ndim not in (1, 2) or pts.size % 2 or (pts.ndim == 2 and pts.shape[1] != 2):
        got = f"an array of shape {pts.shape}" if pts is not None else type(poly).__name__
        raise InputError(f"existing polygon {i} must be a (K, 2) array of x, y coordinates "
                         f"or an Annotation, got {got}")
    if not np.isfinite(pts).all():
        raise InputError(f"existing polygon {i} has coordinates that are not finite numbers")
    return pts.reshape(-1, 2)


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

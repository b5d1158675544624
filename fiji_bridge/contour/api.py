"""suggest_contour: a refined outline from a person's rough contour or line (pure numpy/torch)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain, islice
from numbers import Integral, Real

import numpy as np

from fiji_bridge.annotation import Annotation
from fiji_bridge.contour import active_contour, region_growing, unet
from fiji_bridge.contour.candidates import existing_masks, outline, ranked_components, without_existing
from fiji_bridge.contour.crop import Window, make_window, misses_image, stroke_pixels
from fiji_bridge.errors import InputError
from fiji_bridge.rois.labels import annotation_mask

METHODS = ("unet", "region_growing", "active_contour")
UNET_THRESHOLD = 0.5  # probability above which a pixel belongs to the object
_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)


def suggest_contour(image: np.ndarray, init: np.ndarray, *, method: str = "unet", max_distance: float = 17,
                    closed: bool = True, existing: Sequence[np.ndarray | Annotation] | np.ndarray | None = None,
                    candidate: int = 0) -> np.ndarray:
    """Refined outline of the object that ``init`` points at, as a (K, 2) float xy polygon.

    ``image``: (Y, X) or RGB (Y, X, 3), uint8/uint16/float (other integers and bool as float). ``init``: (N, 2) xy in ImageJ
    coordinates, a closed polygon or (``closed=False``) an open line. The search stays inside
    the init's bounding box enlarged by ``max_distance`` px. Candidates overlapping a polygon of
    ``existing`` by more than 40 % of their area are skipped; ``candidate=1, 2, ...`` returns
    the next-ranked objects (for "Next Candidate"). The outline runs along pixel edges:
    filling it at pixel centres gives exactly the suggested pixels.
    """
    _check_count("candidate", candidate, "0 = the best object, 1 = the next, ...")
    ranked = suggest_candidates(image, init, method=method, max_distance=max_distance, closed=closed,
                                existing=existing, limit=candidate + 1)
    if candidate >= len(ranked):
        if candidate == 0:
            raise InputError("no object found near the initial contour that is not already annotated; "
                             "draw the contour closer to the object or increase max_distance")
        raise InputError(f"there is no candidate number {candidate + 1} near the initial contour "
                         f"(found {len(ranked)})")
    return ranked[candidate]


def suggest_candidates(image: np.ndarray, init: np.ndarray, *, method: str = "unet", max_distance: float = 17,
                       closed: bool = True, existing: Sequence[np.ndarray | Annotation] | np.ndarray | None = None,
                       limit: int | None = None) -> list[np.ndarray]:
    """All candidate outlines (best first, at most ``limit``) that :func:`suggest_contour` chooses from."""
    img = _checked_image(image)
    pts = _checked_init(init, closed, img.shape[:2])
    if method not in METHODS:
        raise InputError(f"unknown contour method {method!r}; choose one of {', '.join(METHODS)}")
    if isinstance(max_distance, bool) or not isinstance(max_distance, Real) \
            or not np.isfinite(max_distance) or max_distance < 0:
        raise InputError(f"max_distance must be a number >= 0 (pixels), got {max_distance!r}")
    if limit is not None:
        _check_count("limit", limit, "how many candidates at most, or None for all")
    win = make_window(pts, img.shape[:2], max_distance, closed)
    x0, y0, x1, y1 = win.crop
    crop = img[y0:y1, x0:x1]
    init_region = _init_region(pts, closed, (x0, y0), crop.shape[:2])
    if closed and init_region.sum() < 2:
        raise InputError("the initial contour is too small: draw around the object "
                         "(it must cover at least 2 pixels of the image)")
    _check_crop(crop)
    taken = existing_masks(existing, (x0, y0), crop.shape[:2])
    masks = without_existing(_candidate_masks(method, img, crop, pts, closed, win, init_region, max_distance), taken)
    return [outline(m, (x0, y0)) for m in islice(masks, limit)]


def _candidate_masks(method: str, img: np.ndarray, crop: np.ndarray, pts: np.ndarray, closed: bool,
                     win: Window, init_region: np.ndarray, max_distance: float) -> Iterator[np.ndarray]:
    """Candidate masks in the crop, best first, computed only as far as they are taken."""
    x0, y0, x1, y1 = win.crop
    cut = (x0 > 0, y0 > 0, x1 < img.shape[1], y1 < img.shape[0])  # crop sides inside the image
    if method == "unet":
        ox, oy = x0 - win.x0, y0 - win.y0
        prob = unet.predict(img, pts, closed, win)[:, oy:oy + y1 - y0, ox:ox + x1 - x0]
        pointed = prob[0] > UNET_THRESHOLD
        others = (prob[1] > UNET_THRESHOLD) & ~pointed
        return chain(ranked_components(pointed, init_region, cut), ranked_components(others, init_region, cut))
    if method == "region_growing":
        seeds = region_growing.seeds_from(init_region, closed)
        grown = region_growing.grow(crop, seeds, max_distance, region_growing.value_range(img))
        return ranked_components(grown, init_region, cut)
    refined = active_contour.refine(crop, init_region, closed)
    return ranked_components(refined, init_region, cut)


def _checked_image(image: np.ndarray) -> np.ndarray:
    """The image as an array of one of ``_DTYPES``: other integer types, bool and float16 are
    converted exactly (to float64 or float32), and then treated as float images."""
    img = np.asarray(image)
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise InputError(f"the image must be 2-D (Y, X) or RGB (Y, X, 3), got shape {img.shape}")
    if img.dtype == np.float16:
        img = img.astype(np.float32)
    elif img.dtype not in _DTYPES and (img.dtype == np.bool_ or img.dtype.kind in "iu"):
        img = img.astype(np.float64)
    if img.dtype not in _DTYPES:
        raise InputError(f"the image must hold integers or real numbers (8-bit, 16-bit, float ...), got {img.dtype}")
    if min(img.shape[:2]) < 2:
        raise InputError(f"the image is too small ({img.shape[1]}x{img.shape[0]} px)")
    return img


def _checked_init(init: np.ndarray, closed: bool, shape: tuple[int, int]) -> np.ndarray:
    try:
        pts = np.asarray(init, np.float64)
    except (TypeError, ValueError):
        raise InputError("the initial contour must be an (N, 2) array of x, y coordinates") from None
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise InputError(f"the initial contour must be an (N, 2) array of x, y coordinates, got shape {pts.shape}")
    if not np.isfinite(pts).all():
        raise InputError("the initial contour has coordinates that are not finite numbers")
    if misses_image(pts, shape, closed):
        raise InputError(f"the initial contour lies outside the image ({shape[1]}x{shape[0]} px)")
    if closed and len(pts) < 3:
        raise InputError(f"a closed initial contour needs at least 3 vertices, got {len(pts)}")
    if not closed and np.hypot(*np.ptp(pts, axis=0)) < 2:
        raise InputError("the initial line is too short: draw it across the object (at least 2 pixels long)")
    return pts


def _check_count(name: str, value: object, meaning: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise InputError(f"{name} must be a whole number >= 0 ({meaning}), got {value!r}")


def _check_crop(crop: np.ndarray) -> None:
    if crop.dtype.kind == "f" and not np.isfinite(crop).all():
        raise InputError("the image has NaN or infinite values around the initial contour")
    if not crop.any():
        raise InputError("the image is empty (all zeros) around the initial contour")
    if crop.min() == crop.max():
        raise InputError("the image has no contrast around the initial contour (all pixels are equal)")


def _init_region(pts: np.ndarray, closed: bool, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """The init's pixels in crop coordinates: the filled polygon, or the pixels a line passes through."""
    local = pts - origin
    if closed:
        return annotation_mask(Annotation(local), shape)
    return stroke_pixels(local, False, shape)

"""Crop rule, size-normalised window and the network input (shared by training and inference).

The crop rule (AnnotatorJ's): the initial contour's bounding box enlarged by ``max_distance``,
clipped to the image. The network sees the square window centred on that crop, resized to
``INPUT_SIZE`` px, so objects of any size reach it at a similar scale.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

INPUT_SIZE = 64
STROKE_DECAY = 4.0  # px of the resized window over which the stroke channel falls off by 1/e
LOW_PERCENTILE, HIGH_PERCENTILE = 0.5, 99.8


@dataclass(frozen=True)
class Window:
    """Crop rule box (x0, y0, x1, y1; exclusive ends, inside the image) and its square window."""

    crop: tuple[int, int, int, int]
    x0: int
    y0: int
    side: int

    @property
    def scale(self) -> float:
        """Network pixels per image pixel."""
        return INPUT_SIZE / self.side


def crop_box(init: np.ndarray, shape: tuple[int, int], max_distance: float,
             closed: bool = True) -> tuple[int, int, int, int]:
    """The init's pixel bounding box enlarged by ``max_distance``, clipped to an image of ``shape`` (Y, X).

    An open line (``closed=False``) also keeps the pixels its stroke passes through: a line at
    integer x lies in column x (see :func:`stroke_pixels`), which ends the box at x + 1."""
    d = int(np.ceil(max_distance))
    x0 = int(np.floor(init[:, 0].min())) - d
    y0 = int(np.floor(init[:, 1].min())) - d
    x1 = int(np.ceil(init[:, 0].max())) + d
    y1 = int(np.ceil(init[:, 1].max())) + d
    if not closed:
        x1 = max(x1, int(np.floor(init[:, 0].max())) + 1)
        y1 = max(y1, int(np.floor(init[:, 1].max())) + 1)
    return max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])


def make_window(init: np.ndarray, shape: tuple[int, int], max_distance: float, closed: bool = True) -> Window:
    """Crop rule box plus the square window (possibly reaching past the image edge) around it."""
    box = crop_box(init, shape, max_distance, closed)
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0, 8)
    wx0 = (x0 + x1 - side) // 2
    wy0 = (y0 + y1 - side) // 2
    return Window(box, wx0, wy0, side)


def misses_image(init: np.ndarray, shape: tuple[int, int], closed: bool = True) -> bool:
    """True when an (N, 2) xy init has no part inside an image of ``shape`` (Y, X). An area
    ending at x = 0 covers no pixel; an open line (``closed=False``) at x = 0 lies in column 0."""
    height, width = shape
    xmax, ymax = init.max(axis=0)
    before = (xmax <= 0 or ymax <= 0) if closed else (xmax < 0 or ymax < 0)
    return bool(before or init[:, 0].min() >= width or init[:, 1].min() >= height)


def source_region(init: np.ndarray, shape: tuple[int, int], max_distance: float,
                  closed: bool = True) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), exclusive ends: every pixel of an image of ``shape`` that the network
    input for ``init`` can read (the window, and where it passes the image edge, the mirrored
    pixels). The U-Net's suggestion from this region, shifted back, equals the suggestion from
    the whole image; callers holding a large image pass only this part. Empty (0, 0, 0, 0) when
    the init (an open line with ``closed=False``) misses the image."""
    init = np.asarray(init, np.float64)
    if misses_image(init, shape, closed):
        return (0, 0, 0, 0)
    win = make_window(init, shape, max_distance, closed)
    height, width = shape
    return (max(win.x0 - win.side, 0), max(win.y0 - win.side, 0),
            min(win.x0 + 2 * win.side, width), min(win.y0 + 2 * win.side, height))


def extract(arr: np.ndarray, win: Window) -> np.ndarray:
    """The window's pixels of a 2-D array; outside the image, mirrored ('reflect') values."""
    h, w = arr.shape[:2]
    ys = _reflect(np.arange(win.y0, win.y0 + win.side), h)
    xs = _reflect(np.arange(win.x0, win.x0 + win.side), w)
    return arr[np.ix_(ys, xs)]


def _reflect(idx: np.ndarray, n: int) -> np.ndarray:
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= n, period - idx, idx)


def resize(arr: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a 2-D float array to (size, size), antialiased when shrinking."""
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[None, None]
    shrink = arr.shape[0] > size
    out = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
    return out[0, 0].numpy()


def to_grey(image: np.ndarray) -> np.ndarray:
    """Float32 grey values: RGB (Y, X, 3) averaged over channels, grey kept."""
    if image.ndim == 3:
        return image.astype(np.float32).mean(axis=2)
    return image.astype(np.float32)


def finite(grey: np.ndarray) -> np.ndarray:
    """``grey`` with each NaN or infinite value replaced by the nearest finite one (needs one)."""
    bad = ~np.isfinite(grey)
    if not bad.any():
        return grey
    nearest = ndi.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return grey[tuple(nearest)]


def normalise(grey: np.ndarray) -> np.ndarray:
    """Percentile stretch of a crop to [0, 1]; a flat crop gives zeros."""
    lo, hi = np.percentile(grey, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if hi - lo <= 1e-12 * max(abs(hi), 1.0):
        return np.zeros_like(grey, dtype=np.float32)
    return np.clip((grey - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def stroke_pixels(points: np.ndarray, closed: bool, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask of the pixels an (N, 2) xy polyline passes through (ImageJ pixel convention)."""
    pts = np.asarray(points, np.float64)
    if closed and len(pts) > 2:
        pts = np.vstack([pts, pts[:1]])
    mask = np.zeros(shape, bool)
    if len(pts) == 1:
        segs = [pts]
    else:
        segs = []
        for a, b in zip(pts[:-1], pts[1:]):
            n = int(np.ceil(np.hypot(*(b - a)) * 4)) + 1
            segs.append(a + (b - a) * np.linspace(0.0, 1.0, n)[:, None])
    xy = np.floor(np.concatenate(segs)).astype(np.int64)
    ok = (xy[:, 0] >= 0) & (xy[:, 0] < shape[1]) & (xy[:, 1] >= 0) & (xy[:, 1] < shape[0])
    mask[xy[ok, 1], xy[ok, 0]] = True
    return mask


def polygon_fill(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask of the pixels whose centres lie inside the polygon (even-odd rule)."""
    from skimage.draw import polygon as draw_polygon

    pts = np.asarray(points, np.float64)
    mask = np.zeros(shape, bool)
    rr, cc = draw_polygon(pts[:, 1] - 0.5, pts[:, 0] - 0.5, shape)
    mask[rr, cc] = True
    return mask


def encode_init(init: np.ndarray, closed: bool, win: Window) -> tuple[np.ndarray, np.ndarray]:
    """(filled init, stroke closeness) channels at INPUT_SIZE for an init in image xy."""
    local = (np.asarray(init, np.float64) - [win.x0, win.y0]) * win.scale
    size = (INPUT_SIZE, INPUT_SIZE)
    fill = polygon_fill(local, size) if closed else np.zeros(size, bool)
    stroke = stroke_pixels(local, closed, size)
    closeness = np.exp(-ndi.distance_transform_edt(~stroke) / STROKE_DECAY)
    return fill.astype(np.float32), closeness.astype(np.float32)


def network_input(image: np.ndarray, init: np.ndarray, closed: bool, win: Window) -> np.ndarray:
    """The (3, INPUT_SIZE, INPUT_SIZE) float32 input for an image (grey or RGB) and an init."""
    crop = normalise(resize(finite(to_grey(extract(image, win))), INPUT_SIZE))
    fill, closeness = encode_init(init, closed, win)
    return np.stack([crop, fill, closeness])

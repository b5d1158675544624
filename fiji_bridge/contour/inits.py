"""Simulated quick initial contours for a ground-truth object (training and benchmarks).

What a person draws in a hurry: a rough polygon (few vertices, too large or too small, shifted),
a short freehand line across the object, or a loose bounding box. All in ImageJ xy coordinates.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

INIT_KINDS = ("polygon", "line", "box")
CLOSED = {"polygon": True, "line": False, "box": True}


def _geometry(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Centroid (xy of pixel centres), boundary pixel centres (xy), equivalent diameter."""
    ys, xs = np.nonzero(mask)
    centre = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
    edge = mask & ~ndi.binary_erosion(mask)
    by, bx = np.nonzero(edge)
    boundary = np.stack([bx + 0.5, by + 0.5], axis=1)
    return centre, boundary, float(np.sqrt(4 * len(xs) / np.pi))


def _radius_along(boundary: np.ndarray, centre: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Distance from the centre to the object edge along each angle (nearest boundary pixel by angle)."""
    rel = boundary - centre
    theta = np.arctan2(rel[:, 1], rel[:, 0])
    radius = np.hypot(rel[:, 0], rel[:, 1]) + 0.5
    diff = np.abs(np.angle(np.exp(1j * (angles[:, None] - theta[None, :]))))
    # among boundary pixels close in angle, take the farthest (outer edge)
    near = diff <= diff.min(axis=1, keepdims=True) + 0.15
    return np.where(near, radius[None, :], 0.0).max(axis=1)


def rough_polygon(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """5-12 vertices around the object, scaled 0.7-1.4x, per-vertex noise, shifted."""
    centre, boundary, diam = _geometry(mask)
    n = int(rng.integers(5, 13))
    angles = np.sort(rng.uniform(0, 2 * np.pi) + np.arange(n) * 2 * np.pi / n + rng.normal(0, 0.15, n))
    r = _radius_along(boundary, centre, angles)
    r = r * rng.uniform(0.7, 1.4) * rng.uniform(0.85, 1.15, n)
    r = np.maximum(r, 1.0)
    shift = rng.normal(0, 0.1 * diam, 2)
    return centre + shift + np.stack([r * np.cos(angles), r * np.sin(angles)], axis=1)


def freehand_line(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A short wobbly line across the object through (near) its centre, 40-100% of its extent."""
    centre, boundary, diam = _geometry(mask)
    a = rng.uniform(0, np.pi)
    d = np.array([np.cos(a), np.sin(a)])
    ext = _radius_along(boundary, centre, np.array([a, a + np.pi]))
    length_frac = rng.uniform(0.4, 1.0)
    start = centre - d * ext[1] * length_frac
    end = centre + d * ext[0] * length_frac
    n = int(rng.integers(6, 20))
    t = np.linspace(0, 1, n)[:, None]
    pts = start + (end - start) * t
    normal = np.array([-d[1], d[0]])
    wobble = np.cumsum(rng.normal(0, 0.25, n)) * rng.uniform(0.3, 1.0)
    shift = rng.normal(0, 0.08 * diam, 2)
    return pts + normal * wobble[:, None] + shift


def loose_box(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The object's bounding box, each side moved out by 0-30% of its size (+1 px), slightly shifted."""
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    w, h = x1 - x0, y1 - y0
    mx = rng.uniform(0.0, 0.3, 2) * w + 1
    my = rng.uniform(0.0, 0.3, 2) * h + 1
    sx, sy = rng.normal(0, 0.05 * w), rng.normal(0, 0.05 * h)
    bx0, bx1 = x0 - mx[0] + sx, x1 + mx[1] + sx
    by0, by1 = y0 - my[0] + sy, y1 + my[1] + sy
    return np.array([[bx0, by0], [bx1, by0], [bx1, by1], [bx0, by1]])


def simulate(kind: str, mask: np.ndarray, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """One init of ``kind`` for the object ``mask``, clipped to an image of ``shape`` (Y, X)."""
    make = {"polygon": rough_polygon, "line": freehand_line, "box": loose_box}[kind]
    pts = make(mask, rng)
    pts[:, 0] = np.clip(pts[:, 0], 0, shape[1])
    pts[:, 1] = np.clip(pts[:, 1], 0, shape[0])
    return pts


def touching_labels(labels: np.ndarray) -> set[int]:
    """Labels whose object touches another object (8-neighbourhood)."""
    grown = ndi.grey_dilation(labels, size=3)
    shrunk = ndi.grey_erosion(np.where(labels > 0, labels, np.iinfo(labels.dtype).max), size=3)
    inside = labels > 0
    return set(np.unique(labels[inside & ((grown != labels) | (shrunk != labels))]).tolist())

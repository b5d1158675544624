"""From the network's probability maps to instance labels (seeded watershed).

Seeds are the connected cores where the predicted normalised distance (``seed_source``
"distance") or foreground minus boundary probability ("boundary") exceeds ``seed_threshold``. A foreground piece (small holes filled) with fewer than two seeds is one
object; pieces with several seeds are split by a watershed on ``-distance`` from the seeds,
and split parts without a valley between them are merged again (``merge_ratio``).
Objects smaller than ``min_area`` are dropped. Areas are given at the model's nucleus scale
(``TARGET_DIAMETER`` px) and scaled to the resolution of the maps by ``area_scale``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import watershed


@dataclass(frozen=True)
class PostProcessing:
    """Parameters tuned on DSB2018 ``val`` (see models/nucleus/MODEL_CARD.md)."""

    foreground_threshold: float = 0.55
    seed_source: str = "distance"
    seed_threshold: float = 0.6
    min_seed_area: float = 8.0
    min_area: float = 40.0
    max_hole_area: float = 40.0
    merge_ratio: float = 0.7


# The pre-segmentation that estimates the nucleus size keeps a stricter foreground: touching
# nuclei merge less, and the size search settles better (val DSB 0.586 with 0.55 there).
SIZE_POSTPROCESSING = PostProcessing(foreground_threshold=0.6)


def _fill_small_holes(foreground: np.ndarray, max_area: float) -> np.ndarray:
    """Foreground plus the background pieces smaller than ``max_area`` that do not touch the border."""
    holes, count = ndi.label(~foreground)
    if count <= 1:
        return foreground
    area = np.bincount(holes.ravel(), minlength=count + 1)
    small = area < max_area
    small[0] = False
    border = np.unique(np.concatenate([holes[0], holes[-1], holes[:, 0], holes[:, -1]]))
    small[border] = False
    return foreground | small[holes]


def merge_without_valley(labels: np.ndarray, distance: np.ndarray, ratio: float) -> np.ndarray:
    """Merge touching objects whose shared border has no valley in ``distance``.

    Two 4-adjacent objects are merged when the highest distance value along their border
    reaches ``ratio`` times the lower of their two peaks (an over-split nucleus); a ratio
    above 1 never merges.
    """
    if ratio > 1:
        return labels
    pairs, heights = [], []
    for a, b, da, db in (
        (labels[:, :-1], labels[:, 1:], distance[:, :-1], distance[:, 1:]),
        (labels[:-1], labels[1:], distance[:-1], distance[1:]),
    ):
        border = (a != b) & (a > 0) & (b > 0)
        pairs.append(np.stack([np.minimum(a[border], b[border]), np.maximum(a[border], b[border])], 1))
        heights.append(np.minimum(da[border], db[border]))
    pairs, heights = np.concatenate(pairs), np.concatenate(heights)
    if not len(pairs):
        return labels
    count = int(labels.max())
    peak = np.zeros(count + 1, distance.dtype)  # highest distance per object
    inside = labels > 0
    np.maximum.at(peak, labels[inside], distance[inside])
    order = np.lexsort((heights, pairs[:, 1], pairs[:, 0]))
    pairs, heights = pairs[order], heights[order]
    last = np.r_[np.any(pairs[1:] != pairs[:-1], axis=1), True]  # highest border value per pair
    parent = np.arange(count + 1)

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for (a, b), height in zip(pairs[last], heights[last]):
        if height >= ratio * min(peak[a], peak[b]):
            parent[root(b)] = root(a)
    return np.array([root(k) for k in range(count + 1)])[labels]


def maps_to_labels(maps: np.ndarray, params: PostProcessing = PostProcessing(), area_scale: float = 1.0) -> np.ndarray:
    """(3, H, W) foreground/boundary/distance probabilities -> int32 labels (H, W), not sequential."""
    foreground = maps[0] > params.foreground_threshold
    if not foreground.any():
        return np.zeros(foreground.shape, np.int32)
    mask = _fill_small_holes(foreground, params.max_hole_area * area_scale)
    seed_map = maps[2] if params.seed_source == "distance" else maps[0] - maps[1]
    seeds, n_seeds = ndi.label((seed_map > params.seed_threshold) & foreground)
    if n_seeds:
        seed_area = np.bincount(seeds.ravel(), minlength=n_seeds + 1)
        small = seed_area < params.min_seed_area * area_scale
        small[0] = False
        seeds[small[seeds]] = 0
    pieces, n_pieces = ndi.label(mask)
    seed_pixels = np.flatnonzero(seeds)
    piece_of_seed = np.zeros(n_seeds + 1, np.int64)
    piece_of_seed[seeds.flat[seed_pixels]] = pieces.flat[seed_pixels]
    seeds_per_piece = np.bincount(piece_of_seed[piece_of_seed > 0], minlength=n_pieces + 1)
    clumps = seeds_per_piece >= 2
    clumps[0] = False
    in_clump = clumps[pieces]
    labels = np.where(mask & ~in_clump, pieces, 0).astype(np.int32)
    if in_clump.any():
        flooded = watershed(-maps[2], seeds, mask=in_clump)
        flooded = merge_without_valley(flooded, maps[2], params.merge_ratio)
        labels[in_clump] = flooded[in_clump] + n_pieces
    area = np.bincount(labels.ravel())
    small = area < params.min_area * area_scale
    small[0] = False
    if small.any():
        labels[small[labels]] = 0
    return labels

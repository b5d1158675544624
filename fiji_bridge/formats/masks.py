"""Masks from annotations (binary, instance labels, one layer per object) and back.

All rasterising goes through :func:`fiji_bridge.rois.labels.annotation_mask` (``annotation_mask_in`` for a box), ImageJ's rule:
a pixel belongs to an annotation when its centre is inside (even-odd over all outlines).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np
from scipy import ndimage

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.rois.labels import annotation_mask_in, annotations_to_labels, labels_to_annotations

Shape = tuple[int, int]
LABEL_VALUE_MODES = ("index", "name")


def integer_name(name: str) -> int | None:
    """The label an ROI name stands for (``"0007"`` -> 7), or None if it is not a positive integer."""
    text = name.strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    return None


def label_values(anns: Sequence[Annotation], by: str = "index") -> np.ndarray:
    """Label value of each annotation.

    ``by="index"``: ROI index + 1 (AnnotatorJ ``labelled_masks``). ``by="name"``: the integer
    ROI name (AnnotatorJ ``Class_NN`` masks, OpSeF); ROIs whose name is not a positive integer,
    or repeats an earlier one, get max + 1, max + 2, ... in ROI order.
    """
    if by not in LABEL_VALUE_MODES:
        raise InputError(f"label values must be one of {LABEL_VALUE_MODES}, got {by!r}")
    if by == "index":
        return np.arange(1, len(anns) + 1, dtype=np.int64)
    named = [integer_name(a.name) for a in anns]
    next_free = max((v for v in named if v is not None), default=0) + 1
    seen: set[int] = set()
    values = []
    for value in named:
        if value is None or value in seen:
            value, next_free = next_free, next_free + 1
        seen.add(value)
        values.append(value)
    return np.asarray(values, dtype=np.int64)


def label_mask(anns: Sequence[Annotation], shape: Shape, by: str = "index") -> np.ndarray:
    """Instance label mask; later ROIs overwrite earlier ones where they overlap."""
    return annotations_to_labels(list(anns), shape, values=label_values(anns, by).tolist())


def covered_by_later(anns: Sequence[Annotation], shape: Shape) -> list[int]:
    """Indexes of the ROIs that fill pixels of the image but all of them are covered by later
    ROIs, so they do not show in a label or binary mask."""
    covered = np.zeros(shape, dtype=bool)
    hidden = []
    for i in range(len(anns) - 1, -1, -1):
        if not anns[i].is_area:
            continue
        y0, x0, mask = crop_mask(anns[i], shape)
        window = covered[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]]
        if mask.any() and window[mask].all():
            hidden.append(i)
        window |= mask
    return hidden[::-1]


def binary_mask(anns: Sequence[Annotation], shape: Shape) -> np.ndarray:
    """Semantic mask, foreground = 1 (uint16, as AnnotatorJ's ``binary_masks``)."""
    out = np.zeros(shape, dtype=np.uint16)
    for ann in anns:
        y0, x0, mask = crop_mask(ann, shape)
        out[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]] |= mask.astype(np.uint16)
    return out


def layered_stack(anns: Sequence[Annotation], shape: Shape) -> np.ndarray:
    """One uint16 slice per annotation, object pixels = 1 (for overlapping objects)."""
    out = np.zeros((len(anns), *shape), dtype=np.uint16)
    for i, ann in enumerate(anns):
        y0, x0, mask = crop_mask(ann, shape)
        out[i, y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]] = mask
    return out


def pixel_area(ann: Annotation, shape: Shape) -> int:
    """Number of image pixels the annotation covers."""
    return int(crop_mask(ann, shape)[2].sum())


def crop_mask(ann: Annotation, shape: Shape) -> tuple[int, int, np.ndarray]:
    """(y0, x0, mask) of the annotation over its bounding box, clipped to the image."""
    xmin, ymin, xmax, ymax = ann.bounds()
    height, width = shape
    x0, y0 = min(max(math.floor(xmin), 0), width), min(max(math.floor(ymin), 0), height)
    x1, y1 = max(min(math.ceil(xmax), width), x0), max(min(math.ceil(ymax), height), y0)
    if x1 == x0 or y1 == y0:
        return y0, x0, np.zeros((y1 - y0, x1 - x0), dtype=bool)
    return y0, x0, annotation_mask_in(ann, shape, (x0, y0, x1, y1))


def on_pixel_edges(ann: Annotation, shape: Shape) -> bool:
    """True when every outline runs along pixel edges inside the image (integer vertices,
    horizontal and vertical segments), as traced outlines do."""
    height, width = shape
    for path in ann.paths:
        if not np.array_equal(path, np.round(path)) or path[:, 0].min() < 0 or path[:, 1].min() < 0 \
                or path[:, 0].max() > width or path[:, 1].max() > height:
            return False
        step = np.roll(path, -1, axis=0) - path
        if np.any((step[:, 0] != 0) & (step[:, 1] != 0)):
            return False
    return True


def pixel_outline(ann: Annotation, shape: Shape,
                  crop: tuple[int, int, np.ndarray] | None = None) -> Annotation | None:
    """The annotation itself when it runs along pixel edges inside the image, else the traced
    outline of the pixels ImageJ fills for it (within the image); None when it fills none.
    Formats that rasterise outlines their own way (COCO, YOLO) then give ImageJ's pixels.
    ``crop``: the annotation's ``crop_mask``, when the caller has it already."""
    y0, x0, mask = crop if crop is not None else crop_mask(ann, shape)
    if not mask.any():
        return None
    if on_pixel_edges(ann, shape):
        return ann
    traced = shifted(labels_to_annotations(mask.astype(np.uint8))[0], x0, y0)
    traced.name, traced.group, traced.position, traced.stroke_color = ann.name, ann.group, ann.position, ann.stroke_color
    traced.hyperstack = ann.hyperstack
    return traced


def shifted(ann: Annotation, dx: float, dy: float) -> Annotation:
    """A copy of the annotation moved by (dx, dy)."""
    offset = np.array([dx, dy])
    return replace(ann, polygon=ann.polygon + offset, subpaths=tuple(p + offset for p in ann.subpaths))


def annotations_from_labels(labels: np.ndarray, *, position: int = 0) -> list[Annotation]:
    """One ROI per label k > 0, named ``%04d`` of k (the label is kept in the name)."""
    return labels_to_annotations(np.asarray(labels), position=position)


def annotations_from_binary(mask: np.ndarray, *, connectivity: int = 8,
                            position: int = 0) -> list[Annotation]:
    """One ROI per connected foreground object (4- or 8-connected), named 0001, 0002, ..."""
    if connectivity not in (4, 8):
        raise InputError(f"connectivity must be 4 or 8, got {connectivity}")
    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    labels, _ = ndimage.label(np.asarray(mask) > 0, structure=structure)
    return labels_to_annotations(labels, position=position)


def annotations_from_layers(stack: Iterable[np.ndarray], names: Sequence[str] | None = None,
                            *, position: int = 0) -> list[Annotation]:
    """One ROI per non-empty slice of a layered stack (an array or an iterator of slices);
    names from ``names`` or ``%04d`` of the slice number."""
    anns = []
    for i, layer in enumerate(stack):
        rows = np.flatnonzero(layer.any(axis=1))
        if rows.size == 0:
            continue
        band = layer[rows[0]:rows[-1] + 1]
        cols = np.flatnonzero(band.any(axis=0))
        y0, x0 = int(rows[0]), int(cols[0])
        crop = (band[:, x0:cols[-1] + 1] > 0).astype(np.uint8)
        pieces = labels_to_annotations(crop, position=position)
        ann = shifted(pieces[0], float(x0), float(y0))
        ann.name = names[i] if names and i < len(names) and names[i] else f"{i + 1:04d}"
        anns.append(ann)
    return anns

"""YOLO labels: one ``<img>.txt`` per image, coordinates normalised by the image size.

Boxes: ``class xc yc w h``; polygons (YOLO segmentation): ``class x1 y1 x2 y2 ...``.
The class id is the ROI group (0 = unclassified); ``classes.txt`` lists the names, line n
for class n. A YOLO polygon has one outline, so an ROI with holes or several pieces is
written as one "keyhole" outline: each extra outline is joined to the first by a
zero-width cut that runs there and back, which leaves the even-odd fill - and so the
pixels - unchanged.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats.bbox import fills_pixels, pixel_box
from fiji_bridge.formats.classes import class_name
from fiji_bridge.formats.masks import pixel_outline

YOLO_MODES = ("boxes", "polygons")
CLASSES_FILE = "classes.txt"
_DIGITS = 8  # decimals written; read-back vertices are snapped to 1e-4 px
_SNAP = 1e4


def keyhole(paths: Sequence[np.ndarray]) -> np.ndarray:
    """One outline with the same even-odd fill as all ``paths`` together."""
    first = np.asarray(paths[0], dtype=np.float64)
    parts = [first, first[:1]]
    for path in paths[1:]:
        path = np.asarray(path, dtype=np.float64)
        parts += [path, path[:1], first[:1]]
    return np.concatenate(parts)


def yolo_text(anns: Sequence[Annotation], shape: tuple[int, int], mode: str = "boxes") -> str:
    """The lines of one image's YOLO label file (area ROIs only)."""
    if mode not in YOLO_MODES:
        raise InputError(f"YOLO mode must be one of {YOLO_MODES}, got {mode!r}")
    height, width = shape
    scale = np.array([width, height], dtype=np.float64)
    lines = []
    for ann in anns:
        if not ann.is_area:
            continue
        if mode == "boxes":
            box = pixel_box(ann, shape)  # the box of its pixels, as CSV and COCO boxes
            if box is None:
                continue
            x, y, w, h = box
            values = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
        else:
            polygon = _polygon(ann, shape)
            if polygon is None:
                continue
            outline = keyhole([p for p in polygon.paths if len(p) >= 3] or [polygon.polygon])
            values = (outline / scale).reshape(-1).tolist()
        lines.append(" ".join([str(int(ann.group)), *(f"{v:.{_DIGITS}f}" for v in values)]))
    return "".join(line + "\n" for line in lines)


def _polygon(ann: Annotation, shape: tuple[int, int]) -> Annotation | None:
    """The ROI as a YOLO polygon: itself when inside the image, else its pixel outline within
    the image (YOLO coordinates must lie in [0, 1]); None when it fills no pixel of the image."""
    if not _inside(ann, shape):
        return pixel_outline(ann, shape)
    return ann if fills_pixels(ann, shape) else None


def _inside(ann: Annotation, shape: tuple[int, int]) -> bool:
    xmin, ymin, xmax, ymax = ann.bounds()
    return xmin >= 0 and ymin >= 0 and xmax <= shape[1] and ymax <= shape[0]


def classes_text(groups: Sequence[int], class_names: Mapping[int, str] | None = None) -> str:
    """``classes.txt``: the names of classes 0 .. max(groups), one per line."""
    top = max(groups, default=0)
    return "".join(class_name(g, class_names) + "\n" for g in range(top + 1))


def read_yolo(path: str | os.PathLike, shape: tuple[int, int]) -> list[Annotation]:
    """ROIs from a YOLO label file (boxes become rectangles, polygons polygons), named 0001, ...

    InputError naming the line for coordinates outside [0, 1] and boxes of zero size (as
    YOLO's own label checks refuse them)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # Windows editors start with a byte-order mark
    except OSError as exc:
        raise InputError(f"cannot read YOLO file {path}: {exc}") from exc
    height, width = shape
    scale = np.array([width, height], dtype=np.float64)
    anns = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            group, values = int(fields[0]), np.array([float(v) for v in fields[1:]])
        except ValueError:
            raise InputError(f"{path}: line {number} is not 'class x y ...': {line}") from None
        if not np.isfinite(values).all():
            raise InputError(f"{path}: line {number} holds a number that is not finite: {line}")
        if values.size and (values.min() < 0 or values.max() > 1):
            raise InputError(f"{path}: line {number} has a coordinate outside 0..1 (YOLO coordinates are "
                             f"fractions of the image size, and exports write only such): {line}")
        if len(values) == 4 and min(values[2:]) <= 0:
            raise InputError(f"{path}: line {number} is a box of zero width or height: {line}")
        if len(values) == 4:
            xc, yc, w, h = values * np.tile(scale, 2)
            corners = [(xc - w / 2, yc - h / 2), (xc + w / 2, yc - h / 2),
                       (xc + w / 2, yc + h / 2), (xc - w / 2, yc + h / 2)]
            ann = Annotation(np.round(np.array(corners) * _SNAP) / _SNAP, roi_type="rectangle")
        elif len(values) >= 6 and len(values) % 2 == 0:
            ann = Annotation(np.round(values.reshape(-1, 2) * scale * _SNAP) / _SNAP)
        else:
            raise InputError(f"{path}: line {number} has {len(values)} numbers; expected 4 (box) "
                             "or an even number >= 6 (polygon)")
        if not 0 <= group <= 255:
            raise InputError(f"{path}: line {number} has class {group}; ROI groups are 0..255")
        ann.group, ann.name = group, f"{len(anns) + 1:04d}"
        anns.append(ann)
    return anns


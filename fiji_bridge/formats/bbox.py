"""Bounding boxes: ``x,y,width,height`` CSV (AnnotatorJ ``bounding_box_coordinates``, COCO-style)."""
from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats.masks import crop_mask

HEADER = ("x", "y", "width", "height")
Box = tuple[int, int, int, int]


def bounding_box(ann: Annotation) -> Box:
    """Integer box (x, y, width, height) enclosing the outline (ImageJ's ``Roi.getBounds``)."""
    xmin, ymin, xmax, ymax = ann.bounds()
    x, y = math.floor(xmin), math.floor(ymin)
    return x, y, math.ceil(xmax) - x, math.ceil(ymax) - y


def fills_pixels(ann: Annotation, shape: tuple[int, int]) -> bool:
    """True when the ROI fills at least one pixel of an image of ``shape`` (ImageJ's rule)."""
    return bool(crop_mask(ann, shape)[2].any())


def pixel_box(ann: Annotation, shape: tuple[int, int],
              crop: tuple[int, int, np.ndarray] | None = None) -> Box | None:
    """Box (x, y, width, height) of the image pixels ImageJ fills for the ROI, the box every
    format writes (so CSV, YOLO, COCO and the masks agree); None when it fills none.
    ``crop``: the ROI's ``crop_mask``, when the caller has it already."""
    y0, x0, mask = crop if crop is not None else crop_mask(ann, shape)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return x0 + int(cols[0]), y0 + int(rows[0]), int(cols[-1] - cols[0]) + 1, int(rows[-1] - rows[0]) + 1


def boxes_csv(anns: Sequence[Annotation], shape: tuple[int, int]) -> str:
    """CSV text with a header line and one box per annotation in ROI order: the box of its
    pixels in the image; ROIs that fill no pixel of the image are left out (as from the masks)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(box for box in (pixel_box(a, shape) for a in anns) if box is not None)
    return out.getvalue()


def read_boxes(path: str | os.PathLike) -> list[Annotation]:
    """Rectangle ROIs named 0001, 0002, ... from a box CSV (header line optional)."""
    path = Path(path)
    try:
        rows = [(number, r) for number, r in enumerate(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()), 1) if r]
    except OSError as exc:
        raise InputError(f"cannot read box file {path}: {exc}") from exc
    if rows and [c.strip().lower() for c in rows[0][1][:4]] == list(HEADER):
        rows = rows[1:]
    anns = []
    for number, row in rows:
        try:
            x, y, w, h = (float(v) for v in row[:4])
            if not all(map(math.isfinite, (x, y, w, h))):
                raise ValueError
        except ValueError:
            raise InputError(f"{path}: line {number} is not 'x,y,width,height': {','.join(row)}") from None
        corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        anns.append(Annotation(corners, name=f"{len(anns) + 1:04d}", roi_type="rectangle"))
    return anns

"""Bounding boxes: ``x,y,width,height`` CSV (AnnotatorJ ``bounding_box_coordinates``, COCO-style)."""
from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

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


def image_box(ann: Annotation, shape: tuple[int, int]) -> Box | None:
    """``bounding_box`` clipped to the image; None when the ROI lies wholly outside it."""
    height, width = shape
    x, y, w, h = bounding_box(ann)
    x0, y0 = min(max(x, 0), width), min(max(y, 0), height)
    x1, y1 = max(min(x + w, width), x0), max(min(y + h, height), y0)
    return None if x1 == x0 or y1 == y0 else (x0, y0, x1 - x0, y1 - y0)


def boxes_csv(anns: Sequence[Annotation], shape: tuple[int, int]) -> str:
    """CSV text with a header line and one box per annotation in ROI order, clipped to the
    image; ROIs that fill no pixel of the image are left out (as they are from the masks)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(image_box(a, shape) for a in anns if fills_pixels(a, shape))
    return out.getvalue()


def read_boxes(path: str | os.PathLike) -> list[Annotation]:
    """Rectangle ROIs named 0001, 0002, ... from a box CSV (header line optional)."""
    path = Path(path)
    try:
        rows = [(number, r) for number, r in enumerate(csv.reader(path.read_text(encoding="utf-8").splitlines()), 1) if r]
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

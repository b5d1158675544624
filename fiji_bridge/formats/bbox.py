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

HEADER = ("x", "y", "width", "height")
Box = tuple[int, int, int, int]


def bounding_box(ann: Annotation) -> Box:
    """Integer box (x, y, width, height) enclosing the outline (ImageJ's ``Roi.getBounds``)."""
    xmin, ymin, xmax, ymax = ann.bounds()
    x, y = math.floor(xmin), math.floor(ymin)
    return x, y, math.ceil(xmax) - x, math.ceil(ymax) - y


def boxes_csv(anns: Sequence[Annotation]) -> str:
    """CSV text with a header line and one box per annotation, in ROI order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(bounding_box(a) for a in anns)
    return out.getvalue()


def read_boxes(path: str | os.PathLike) -> list[Annotation]:
    """Rectangle ROIs named 0001, 0002, ... from a box CSV (header line optional)."""
    path = Path(path)
    try:
        rows = [r for r in csv.reader(path.read_text(encoding="utf-8").splitlines()) if r]
    except OSError as exc:
        raise InputError(f"cannot read box file {path}: {exc}") from exc
    if rows and [c.strip().lower() for c in rows[0][:4]] == list(HEADER):
        rows = rows[1:]
    anns = []
    for number, row in enumerate(rows, start=1):
        try:
            x, y, w, h = (float(v) for v in row[:4])
        except ValueError:
            raise InputError(f"{path}: line {number} is not 'x,y,width,height': {','.join(row)}") from None
        corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        anns.append(Annotation(corners, name=f"{number:04d}", roi_type="rectangle"))
    return anns

"""AnnotatorJ's file and folder names, and the files its exporter writes for one image.

``<img>`` is the image file name without extension. ROIs: ``<img>_ROIs.zip``. Exporter
folders (16-bit TIFFs named ``<img>.tiff``): ``labelled_masks`` (value = ROI index + 1),
``layered_masks`` (one slice per ROI, value 1; slice labels = ROI names), ``binary_masks``
(foreground 1), ``bounding_box_coordinates/<img>.csv``; with classes also
``<folder>/Class_NN/<img>.*`` holding only class NN (instance values = integer ROI names).
Added by fiji_bridge: ``yolo/<img>.txt`` + ``yolo/classes.txt``, ``coco/annotations.json``.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fiji_bridge.annotation import Annotation
from fiji_bridge.formats import bbox, masks, yolo
from fiji_bridge.formats.atomic import WriteBatch
from fiji_bridge.formats.classes import class_folder, groups_in
from fiji_bridge.formats.images import Calibration, add_sparse_stack, add_tiff
from fiji_bridge.rois.labels import annotations_to_labels

ROIS_SUFFIX = "_ROIs.zip"
FOLDERS = {
    "labels": "labelled_masks",
    "layered": "layered_masks",
    "binary": "binary_masks",
    "bbox": "bounding_box_coordinates",
    "yolo": "yolo",
    "coco": "coco",
}
EXPORT_FORMATS = tuple(FOLDERS)
COCO_FILE = "annotations.json"
MASK_SUFFIX = ".tiff"
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}")
CLASS_DIR = re.compile(r"^Class_(\d{2,3})$")


def image_stem(image: str | os.PathLike) -> str:
    """``<img>``: the image file name (or ImageJ title) without its extension. Only a real
    extension is removed, so titles such as ``experiment.lif - Series 1`` stay apart."""
    name = Path(image).name
    return name[: -len(Path(name).suffix)] if _EXTENSION.fullmatch(Path(name).suffix) else name


def roiset_name(image: str | os.PathLike) -> str:
    """AnnotatorJ's ROI file name for an image: ``<img>_ROIs.zip``."""
    return image_stem(image) + ROIS_SUFFIX


def image_stem_of_roiset(path: str | os.PathLike) -> str | None:
    """``<img>`` of an ``<img>_ROIs.zip`` file, or None for other names."""
    name = Path(path).name
    return name[: -len(ROIS_SUFFIX)] if name.endswith(ROIS_SUFFIX) else None


def output_file(out_dir: Path, fmt: str, stem: str, group: int = 0) -> Path:
    """Where format ``fmt`` puts image ``stem`` (in ``Class_NN/`` for class ``group`` > 0)."""
    folder = out_dir / FOLDERS[fmt]
    if group:
        folder = folder / class_folder(group)
    suffix = {"bbox": ".csv", "yolo": ".txt"}.get(fmt, MASK_SUFFIX)
    return folder / (stem + suffix)


def add_image_files(batch: WriteBatch, out_dir: Path, fmt: str, stem: str,
                    anns: Sequence[Annotation], shape: tuple[int, int], *,
                    yolo_mode: str = "boxes", label_values: str = "index",
                    calibration: Calibration | None = None) -> None:
    """Queue one image's files in format ``fmt`` (all but COCO), with ``Class_NN/`` copies;
    mask TIFFs carry the image's ``calibration`` (pixel size and unit) when given.

    ``label_values``: "index" (ROI index + 1, AnnotatorJ's ``labelled_masks``) or "name" (the
    integer ROI name) for the main label mask; ``Class_NN`` masks always use the names, numbered
    over all of the image's ROIs, so an ROI has the same value in both with "name". The
    image's ``Class_NN/`` files of classes it no longer has are queued for removal.
    """
    anns = [a for a in anns if a.is_area]
    by_name = masks.label_values(anns, "name")
    values = by_name if label_values == "name" else masks.label_values(anns, label_values)
    _add_one(batch, output_file(out_dir, fmt, stem), fmt, anns, values, shape, yolo_mode, calibration)
    if fmt == "yolo":
        return
    groups = groups_in(anns)
    for group in groups:
        members = [i for i, a in enumerate(anns) if a.group == group]
        _add_one(batch, output_file(out_dir, fmt, stem, group), fmt, [anns[i] for i in members],
                 by_name[members], shape, yolo_mode, calibration)
    for stale in class_files(out_dir, fmt, stem):
        if stale.parent.name not in map(class_folder, groups):
            batch.remove(stale)


def class_files(out_dir: Path, fmt: str, stem: str) -> list[Path]:
    """The existing ``Class_NN/`` files of image ``stem`` in format ``fmt``."""
    name = output_file(out_dir, fmt, stem).name
    return [sub / name for sub in class_folders(out_dir / FOLDERS[fmt]) if (sub / name).is_file()]


def class_folders(folder: Path) -> list[Path]:
    """The ``Class_NN/`` folders inside a format's ``folder`` (none when it does not exist)."""
    return sorted(sub for sub in folder.glob("Class_*") if CLASS_DIR.match(sub.name)) if folder.is_dir() else []


def add_yolo_classes(batch: WriteBatch, out_dir: Path, groups: Sequence[int],
                     class_names: Mapping[int, str] | None = None) -> None:
    """Queue ``yolo/classes.txt``."""
    batch.add_text(out_dir / FOLDERS["yolo"] / yolo.CLASSES_FILE, yolo.classes_text(groups, class_names))


def _add_one(batch: WriteBatch, path: Path, fmt: str, anns: list[Annotation], values: np.ndarray,
             shape: tuple[int, int], yolo_mode: str, calibration: Calibration | None = None) -> None:
    if fmt == "labels":
        add_tiff(batch, path, annotations_to_labels(anns, shape, values=values.tolist()), calibration=calibration)
    elif fmt == "binary":
        add_tiff(batch, path, masks.binary_mask(anns, shape), calibration=calibration)
    elif fmt == "layered":
        crops = [masks.crop_mask(a, shape) for a in anns]
        add_sparse_stack(batch, path, [(y, x, m.astype(np.uint16)) for y, x, m in crops], shape,
                         slice_labels=[a.name for a in anns] or None, calibration=calibration)
    elif fmt == "bbox":
        batch.add_text(path, bbox.boxes_csv(anns, shape))
    elif fmt == "yolo":
        batch.add_text(path, yolo.yolo_text(anns, shape, yolo_mode))
    else:
        raise ValueError(f"unknown export format {fmt!r}")

"""COCO JSON for a folder of images: instance polygons (or RLE), boxes, areas, classes.

Coordinates: ImageJ's pixel frame is COCO's continuous frame (pixel (x, y) covers
[x, x+1) x [y, y+1)). Outlines along pixel edges (traced ROIs) are written as they are; any
other ROI (a hand-drawn polygon with slanted edges, sub-pixel vertices, parts outside the
image) as the traced outline of the pixels ImageJ fills for it, because pycocotools
rasterises slanted edges by its own rule. So every polygon decodes to exactly ImageJ's pixels.
COCO polygons are unioned, so an ROI whose outlines nest (holes, an island in a hole) is
written as RLE (pycocotools ``mask.encode``) instead; every other ROI as a list of polygons.
``area`` is the pixel count under ImageJ's rule, ``bbox`` the box of those pixels (as CSV and YOLO);
ROIs that fill no pixel of the image are left out. Categories: id = ROI group (class
number), name from the class names (``Class_NN``; group 0 = ``unclassified``). The ROI name is
kept in each annotation's extra ``name`` field.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats.bbox import pixel_box
from fiji_bridge.formats.classes import class_name
from fiji_bridge.formats.images import Calibration
from fiji_bridge.formats.masks import crop_mask, pixel_outline, shifted
from fiji_bridge.rois.labels import annotation_mask, annotation_mask_in, labels_to_annotations

POLYGON_TYPES = ("polygon", "freehand", "traced", "rectangle", "oval", "composite")


@dataclass
class ImageAnnotations:
    """One image's ROIs: the image file name, its (height, width) and the annotations; for one
    (z, t) plane of a stack, its number (``fiji_bridge.formats.plane_files``), else 0; the
    image's pixel size and unit, when known, for the masks exported from it."""

    file_name: str
    shape: tuple[int, int]
    annotations: list[Annotation] = field(default_factory=list)
    plane: int = 0
    calibration: Calibration | None = None


def coco_dataset(images: Sequence[ImageAnnotations],
                 class_names: Mapping[int, str] | None = None) -> dict[str, Any]:
    """The COCO dictionary (images, categories, annotations) for area ROIs of all images."""
    groups = sorted({int(a.group) for item in images for a in item.annotations})
    result: dict[str, Any] = {
        "info": {"description": "written by fiji_bridge"},
        "images": [],
        "categories": [{"id": g, "name": class_name(g, class_names), "supercategory": "object"}
                       for g in groups],
        "annotations": [],
    }
    for image_id, item in enumerate(images, start=1):
        height, width = item.shape
        result["images"].append({"id": image_id, "file_name": item.file_name,
                                 "width": int(width), "height": int(height)})
        for ann in item.annotations:
            crop = crop_mask(ann, item.shape) if ann.is_area else None
            if crop is None or not crop[2].any():
                continue
            outline = pixel_outline(ann, item.shape, crop)
            result["annotations"].append({
                "id": len(result["annotations"]) + 1,
                "image_id": image_id,
                "category_id": int(ann.group),
                "segmentation": segmentation(outline, item.shape),
                "area": float(crop[2].sum()),
                "bbox": [float(v) for v in pixel_box(ann, item.shape, crop)],
                "iscrowd": 0,
                "name": ann.name,
            })
    return result


def segmentation(ann: Annotation, shape: tuple[int, int]) -> list[list[float]] | dict[str, Any]:
    """COCO polygons when the union of the outlines equals the ROI, else compressed RLE."""
    paths = [p for p in ann.paths if len(p) >= 3]
    if ann.roi_type in POLYGON_TYPES and (len(paths) == 1 or _union_is_even_odd(ann, paths, shape)):
        return [[float(v) for v in p.reshape(-1)] for p in paths]
    rle = coco_mask.encode(np.asfortranarray(annotation_mask(ann, shape).astype(np.uint8)))
    return {"size": [int(shape[0]), int(shape[1])], "counts": rle["counts"].decode("ascii")}


def write_text(dataset: Mapping[str, Any]) -> str:
    """The JSON text of a COCO dictionary."""
    return json.dumps(dataset, separators=(",", ":"))


def read_coco(path: str | os.PathLike) -> tuple[list[ImageAnnotations], dict[int, str]]:
    """Images with their ROIs (class = ROI group) and the class names, from a COCO JSON file.

    Raises InputError naming the file for malformed JSON, missing keys or an annotation that
    refers to an image id the file does not list.
    """
    path = Path(path)
    data = _load_json(path)
    images: dict[int, ImageAnnotations] = {}
    for entry in data["images"]:
        if isinstance(entry, dict) and entry.get("id") in images:
            raise InputError(f"{path}: two images have the id {entry['id']!r} ({images[entry['id']].file_name} "
                             f"and {entry.get('file_name')}); every COCO image needs its own id")
        try:
            images[entry["id"]] = ImageAnnotations(str(entry["file_name"]),
                                                   (int(entry["height"]), int(entry["width"])))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}: image entry {entry!r} needs id, file_name, width and height") from None
    groups = _category_groups(path, data.get("categories", []))
    names = {groups[c["id"]]: str(c.get("name", "")) for c in data.get("categories", [])}
    for number, entry in enumerate(data["annotations"], start=1):
        if not isinstance(entry, dict):
            raise InputError(f"{path}: annotation {number} is not an object: {entry!r}")
        image_id = entry.get("image_id")
        if isinstance(image_id, bool) or not isinstance(image_id, (int, str)) or image_id not in images:
            raise InputError(f"{path}: annotation {entry.get('id', number)} refers to image id "
                             f"{image_id!r}, which is not in the file's images")
        category = entry.get("category_id", 0)
        if category not in groups:
            if data.get("categories") or not (isinstance(category, int) and 0 <= category <= 255):
                raise InputError(f"{path}: annotation {entry.get('id', number)} has category "
                                 f"{category!r}, which is not in the file's categories")
            groups[category] = category
        item = images[image_id]
        ann = _annotation(path, entry, item.shape)
        ann.group = groups[category]
        ann.name = str(entry.get("name") or f"{len(item.annotations) + 1:04d}")
        item.annotations.append(ann)
    return list(images.values()), names


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read COCO file {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise InputError(f"{path} is not a COCO file: it needs 'images' and 'annotations' lists")
    return data


def _category_groups(path: Path, categories: list[dict[str, Any]]) -> dict[int, int]:
    """Category id -> ROI group: the id itself when all ids are 0..255, else 1, 2, ... by id."""
    try:
        ids = sorted(int(c["id"]) for c in categories)
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{path}: every category needs an integer id") from None
    if all(0 <= i <= 255 for i in ids):
        return {i: i for i in ids}
    if len(ids) > 255:
        raise InputError(f"{path} has {len(ids)} categories; ImageJ ROI groups allow 255")
    return {i: n for n, i in enumerate(ids, start=1)}


def _annotation(path: Path, entry: dict[str, Any], shape: tuple[int, int]) -> Annotation:
    segm = entry.get("segmentation")
    try:
        if isinstance(segm, list) and segm:
            polys = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in segm if len(p) >= 6]
            if not all(np.isfinite(p).all() for p in polys):
                raise ValueError("a polygon holds a number that is not finite")
            return _annotation_from_polygons(polys, shape)
        if isinstance(segm, dict):
            return _annotation_from_rle(segm, shape)
        x, y, w, h = (float(v) for v in entry["bbox"])
        if not all(np.isfinite((x, y, w, h))):
            raise ValueError("the bbox holds a number that is not finite")
        if w <= 0 or h <= 0:
            raise ValueError(f"its bbox [x, y, width, height] has a width or height of zero or less: {entry['bbox']}")
        return Annotation([(x, y), (x + w, y), (x + w, y + h), (x, y + h)], roi_type="rectangle")
    except InputError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: annotation {entry.get('id')} has no usable segmentation or bbox ({exc})") from None


def _annotation_from_polygons(polys: list[np.ndarray], shape: tuple[int, int]) -> Annotation:
    """An ROI filling exactly the pixels pycocotools gives the polygons (annToMask: each
    polygon rasterised by its rule, the parts unioned): the polygons themselves when ImageJ
    fills the same pixels for them (outlines on pixel edges, as exports write), else the traced
    outline of pycocotools' pixels. Polygons that cover no pixel for pycocotools are kept as
    they are."""
    outlines = Annotation(polys[0], subpaths=tuple(polys[1:]),
                          roi_type="polygon" if len(polys) == 1 else "composite")
    y0, x0, coco_pixels = _coco_polygon_pixels(polys, shape)
    if not coco_pixels.any():
        return outlines
    box = (x0, y0, x0 + coco_pixels.shape[1], y0 + coco_pixels.shape[0])
    if np.array_equal(annotation_mask_in(outlines, shape, box), coco_pixels):
        return outlines
    return shifted(labels_to_annotations(coco_pixels.astype(np.uint8))[0], x0, y0)


def _coco_polygon_pixels(polys: list[np.ndarray], shape: tuple[int, int]) -> tuple[int, int, np.ndarray]:
    """(y0, x0, mask): pycocotools' pixels of the polygons' union over their bounds in the image.

    The polygons are moved by the whole-pixel corner (x0, y0) of the region and rasterised in
    it, which gives pycocotools' full-image result there (its rule moves with whole pixels;
    where a polygon leaves the image the region ends at the image's edge, as the image does)."""
    height, width = shape
    points = np.concatenate(polys)
    x0 = min(max(int(np.floor(points[:, 0].min())) - 1, 0), width)
    y0 = min(max(int(np.floor(points[:, 1].min())) - 1, 0), height)
    x1 = max(min(int(np.ceil(points[:, 0].max())) + 2, width), x0)
    y1 = max(min(int(np.ceil(points[:, 1].max())) + 2, height), y0)
    if x1 == x0 or y1 == y0:
        return y0, x0, np.zeros((y1 - y0, x1 - x0), dtype=bool)
    moved = [(p - [x0, y0]).reshape(-1).tolist() for p in polys]
    rle = coco_mask.merge(coco_mask.frPyObjects(moved, y1 - y0, x1 - x0))
    return y0, x0, coco_mask.decode(rle).astype(bool)


def _annotation_from_rle(segm: dict[str, Any], shape: tuple[int, int]) -> Annotation:
    height, width = (int(v) for v in segm["size"])
    counts = segm["counts"]
    if not isinstance(counts, (list, str)):
        raise ValueError("RLE counts must be a list of run lengths or a compressed string")
    runs = counts if isinstance(counts, list) else _compressed_runs(counts)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in runs) \
            or sum(runs) != height * width:
        raise ValueError(f"its RLE counts are not run lengths covering the {width}x{height} pixels of its size")
    if isinstance(counts, list):
        rle = coco_mask.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    else:
        rle = {"size": [height, width], "counts": counts.encode("ascii")}
    mask = coco_mask.decode(rle).astype(bool)
    if mask.shape != tuple(shape):
        raise InputError(f"an RLE mask is {mask.shape[1]}x{mask.shape[0]} but its image is {shape[1]}x{shape[0]}")
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError("empty RLE mask")
    y0, x0 = int(rows.min()), int(cols.min())
    crop = mask[y0:rows.max() + 1, x0:cols.max() + 1].astype(np.uint8)
    return shifted(labels_to_annotations(crop)[0], x0, y0)


def _compressed_runs(counts: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string, decoded as pycocotools' rleFrString
    does (5-bit groups, runs after the second stored as differences); ValueError for a
    character outside its alphabet or a string that ends inside a number."""
    runs: list[int] = []
    value, shift = 0, 0
    for char in counts:
        code = ord(char) - 48
        if not 0 <= code < 64:
            raise ValueError(f"{char!r} is not a compressed RLE character")
        value |= (code & 0x1F) << shift
        shift += 5
        if code & 0x20:
            continue
        if code & 0x10:
            value -= 1 << shift
        runs.append(value + runs[-2] if len(runs) > 2 else value)
        value, shift = 0, 0
    if shift:
        raise ValueError("the compressed RLE string ends inside a number")
    return runs


def _union_is_even_odd(ann: Annotation, paths: list[np.ndarray], shape: tuple[int, int]) -> bool:
    """True when filling each outline separately and uniting gives the ROI's even-odd pixels."""
    y0, x0, whole = crop_mask(ann, shape)
    union = np.zeros_like(whole)
    box = (x0, y0, x0 + whole.shape[1], y0 + whole.shape[0])
    for p in paths:
        union |= annotation_mask_in(Annotation(p, roi_type="polygon"), shape, box)
    return bool(np.array_equal(union, whole))

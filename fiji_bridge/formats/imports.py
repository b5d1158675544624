"""Import masks, boxes, YOLO, COCO or ROI files as ROIs (and write ``<img>_ROIs.zip`` files).

Classes come from the format where it carries them (COCO categories, YOLO class ids, ROI
groups in zips) and, for masks and box files, from AnnotatorJ's ``Class_NN/`` subfolders
next to the file: an object gets class NN when most of its pixels (or its exact box) are in
class NN's file.
"""
from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats import annotatorj, bbox, coco, masks, yolo
from fiji_bridge.formats.atomic import WriteBatch
from fiji_bridge.formats.coco import ImageAnnotations
from fiji_bridge.formats.images import (IMAGE_SUFFIXES, TIFF_SUFFIXES, check_shape, image_shape,
                                        iter_slices, read_image, read_label_stack, read_plane,
                                        read_slice_labels, stack_dims)
from fiji_bridge.formats.plane_files import on_plane, plane_named, split_plane
from fiji_bridge.rois.planes import StackDims, place, plane_start
from fiji_bridge.rois.roiset import read_roiset, write_roiset

IMPORT_KINDS = ("auto", "labels", "binary", "layered", "bbox", "yolo", "coco", "rois")
_CLASS_DIR = annotatorj.CLASS_DIR
_FOLDER_KINDS = {folder: kind for kind, folder in annotatorj.FOLDERS.items()}


def detect_kind(path: str | os.PathLike, kind_option: str = "--kind") -> str:
    """Guess the kind of an annotation file from its extension and AnnotatorJ folder;
    ``kind_option`` names the option to give when it cannot be told."""
    path = Path(path)
    suffix = path.suffix.lower()
    by_suffix = {".json": "coco", ".csv": "bbox", ".txt": "yolo", ".zip": "rois", ".roi": "rois"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    folder = path.parent.parent.name if _CLASS_DIR.match(path.parent.name) else path.parent.name
    if folder in _FOLDER_KINDS and _FOLDER_KINDS[folder] in ("labels", "binary", "layered"):
        return _FOLDER_KINDS[folder]
    if suffix in IMAGE_SUFFIXES:
        arr = read_image(path)
        stack = arr.ndim >= 3 and not (arr.ndim == 3 and arr.shape[-1] in (3, 4))
        # one object per slice (one value, e.g. 1 or 255) is a layered mask; a stack of label
        # images (as ``fiji-bridge segment`` writes for a stack) holds several labels per slice
        return "layered" if stack and all(_one_value(s) for s in arr.reshape((-1,) + arr.shape[-2:])) else "labels"
    raise InputError(f"cannot tell what kind of annotation file {path} is; give {kind_option}")


def _one_value(plane: np.ndarray) -> bool:
    """True when the non-zero pixels of ``plane`` (if any) all have one value."""
    values = plane[plane != 0]
    return values.size == 0 or values.min() == values.max()


def import_annotations(path: str | os.PathLike, kind: str = "auto", *,
                       image: str | os.PathLike | None = None,
                       shape: tuple[int, int] | None = None,
                       connectivity: int = 8) -> list[ImageAnnotations]:
    """ROIs of one file: a list with one entry per image (several for COCO).

    The image size - ``shape`` (height, width), or ``image``: a file, or a folder holding
    ``<img>.*`` - is what YOLO files need and what masks are checked against.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"annotation file {path} does not exist")
    if kind not in IMPORT_KINDS:
        raise InputError(f"unknown import kind {kind!r}; choose from {', '.join(IMPORT_KINDS)}")
    kind = detect_kind(path) if kind == "auto" else kind
    if kind == "coco":
        items = coco.read_coco(path)[0]
        if image is not None and Path(image).is_file() and len(items) == 1:
            check_coco_size(path, items[0], Path(image).name, image_shape(image))
        return [_on_image_plane(path, item, image) for item in items] if image is not None else items
    if kind == "rois":
        return [ImageAnnotations(_image_name(path), (0, 0), read_roiset(path))]
    if kind == "yolo":
        if shape is None and image is None:
            raise InputError(f"YOLO file {path} has normalised coordinates: give its image "
                             "(--image on the command line; in ImageJ, open the image first) so its size is known")
        shape = shape or image_shape(_matching_image(path, image))
        item = ImageAnnotations(path.name, shape, yolo.read_yolo(path, shape))
        return [_on_image_plane(path, item, image) if image is not None else item]
    if kind == "bbox":
        anns = bbox.read_boxes(path)
        _groups_from_class_boxes(path, anns)
        _group_of_class_folder(path, anns)
        item = ImageAnnotations(path.name, (0, 0), anns)
        return [_on_image_plane(path, item, image) if image is not None else item]
    if path.suffix.lower() in (".jpg", ".jpeg"):
        raise InputError(f"{path} is a JPEG: its lossy compression changes mask values (new labels, "
                         "noise around every object); save masks as TIFF or PNG")
    anns, mask_shape = _read_mask_annotations(path, kind, connectivity)
    if image is not None:
        image_path = _matching_image(path, image)
        shape = shape or image_shape(image_path)
        _on_image_planes(path, anns, stack_dims(image_path))
    if shape is not None:
        check_shape(path, mask_shape, shape, "mask")
    _groups_from_class_masks(path, kind, anns, mask_shape)
    _group_of_class_folder(path, anns)
    item = ImageAnnotations(path.name, mask_shape, anns)
    return [_on_image_plane(path, item, image) if image is not None else item]


def class_option(text: str, what: str) -> int | None:
    """A class the user gives for every imported ROI (ROI group 0..255); None when ``text`` is empty."""
    if not text.strip():
        return None
    if not text.strip().isdigit() or int(text) > 255:
        raise InputError(f"{what} must be a class number 0..255 (ROI group), got {text.strip()!r}")
    return int(text)


def check_coco_size(path: Path, item: ImageAnnotations, image_name: str, shape: tuple[int, int]) -> None:
    """InputError when the COCO image ``item`` of ``path`` has another size than the image
    ``image_name`` of ``shape`` (height, width) its ROIs are meant for."""
    if tuple(item.shape) != tuple(shape):
        raise InputError(f"COCO file {path} annotates {item.file_name} of {item.shape[1]}x{item.shape[0]} "
                         f"pixels, but {image_name} is {shape[1]}x{shape[0]}; use the image it was made for")


def write_roisets(items: Sequence[ImageAnnotations], out_dir: str | os.PathLike, *,
                  overwrite: bool = False) -> list[Path]:
    """Write ``<img>_ROIs.zip`` per image into ``out_dir`` (atomic, all or nothing)."""
    batch = WriteBatch(overwrite=overwrite)
    for item in items:
        anns = item.annotations
        batch.add(Path(out_dir) / annotatorj.roiset_name(item.file_name),
                  lambda tmp, anns=anns: write_roiset(tmp, anns))
    return batch.commit()


def _read_mask_annotations(path: Path, kind: str, connectivity: int) -> tuple[list[Annotation], tuple[int, int]]:
    if kind == "labels":
        stack = read_label_stack(path)
        if len(stack) == 1:
            return masks.annotations_from_labels(stack[0]), stack.shape[1:]
        anns = [a for i, plane in enumerate(stack) for a in masks.annotations_from_labels(plane, position=i + 1)]
        return anns, stack.shape[1:]
    if kind == "binary":
        mask = read_plane(path)
        return masks.annotations_from_binary(mask, connectivity=connectivity), mask.shape
    if path.suffix.lower() not in TIFF_SUFFIXES:
        raise InputError(f"layered mask {path} must be a TIFF stack")
    return masks.annotations_from_layers(iter_slices(path), read_slice_labels(path)), image_shape(path)


def _class_files(path: Path) -> dict[int, Path]:
    """AnnotatorJ class copies of ``path``: ``<folder>/Class_NN/<same name>``."""
    found = {}
    for sub in sorted(path.parent.iterdir()) if path.parent.is_dir() else []:
        match = _CLASS_DIR.match(sub.name)
        if match and sub.is_dir() and (sub / path.name).is_file() and 1 <= int(match.group(1)) <= 255:
            found[int(match.group(1))] = sub / path.name
    return found


def _groups_from_class_masks(path: Path, kind: str, anns: list[Annotation], shape: tuple[int, int]) -> None:
    """Set each ROI's group to the class whose mask holds it: by ROI name for layered stacks
    with slice labels, else the class holding most of the ROI's pixels."""
    members = {}
    for group, file in _class_files(path).items():
        check_shape(file, image_shape(file), shape, "class mask")
        names = read_slice_labels(file) if kind == "layered" else None
        if names:
            for ann in anns:
                if ann.name in names:
                    ann.group = group
            continue
        union = np.zeros(shape, dtype=bool)
        for layer in iter_slices(file):
            union |= layer > 0
        members[group] = union
    if not members:
        return
    for ann in anns:
        y0, x0, mask = masks.crop_mask(ann, shape)
        if not mask.any():
            continue
        window = (slice(y0, y0 + mask.shape[0]), slice(x0, x0 + mask.shape[1]))
        share = {g: m[window][mask].mean() for g, m in members.items()}
        best = max(share, key=share.get)
        if share[best] > 0.5:
            ann.group = best


def _group_of_class_folder(path: Path, anns: list[Annotation]) -> None:
    """A mask or box file inside AnnotatorJ's ``Class_NN/`` folder holds class NN only."""
    match = _CLASS_DIR.match(path.parent.name)
    if match and 1 <= int(match.group(1)) <= 255:
        for ann in anns:
            ann.group = int(match.group(1))


def _groups_from_class_boxes(path: Path, anns: list[Annotation]) -> None:
    for group, file in _class_files(path).items():
        boxes = {bbox.bounding_box(a) for a in bbox.read_boxes(file)}
        for ann in anns:
            if bbox.bounding_box(ann) in boxes:
                ann.group = group


def _image_name(roi_file: Path) -> str:
    return annotatorj.image_stem_of_roiset(roi_file) or roi_file.stem


def _on_image_planes(path: Path, anns: list[Annotation], dims: StackDims) -> None:
    """Objects of slice n of a mask stack go to (z, t) plane n of an image of ``dims`` (on a
    hyperstack, every channel of it); more slices than the image has planes is refused."""
    planes = dims.slices * dims.frames
    deepest = max((a.position for a in anns), default=0)
    if deepest > planes:
        raise InputError(f"{path} has objects on slice {deepest}, but its image has {planes} plane(s)")
    if dims.size == 1:
        return
    for ann in anns:
        if ann.position:
            place(ann, plane_start(ann.position, dims), dims)


def _on_image_plane(path: Path, item: ImageAnnotations, image: str | os.PathLike) -> ImageAnnotations:
    """``item`` of ``path`` (the file, or one COCO entry), named ``<img>-NNNN`` as an export of a
    stack names its planes (``fiji_bridge.formats.plane_files``), as ROIs of the image ``<img>``
    (``image``, or ``<img>.*`` in the folder ``image``) on its plane NNNN; other items as they are."""
    image = Path(image)
    base, plane = split_plane(item.file_name)
    if image.is_file():
        target = image if plane_named(item.file_name, image.name) else None
    elif plane and not _images_named(image, annotatorj.image_stem(item.file_name)):
        target = next(iter(_images_named(image, base)), None)
    else:
        target = None
    if target is None:
        return item
    source = str(path) if item.file_name == path.name else f"{item.file_name} in {path}"
    return on_plane(item, source, target.name, plane, stack_dims(target))


def _images_named(folder: Path, stem: str) -> list[Path]:
    """The images ``<stem>.*`` in ``folder``."""
    return sorted(p for p in folder.glob(f"{glob.escape(stem)}.*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _matching_image(annotation_file: Path, image: str | os.PathLike) -> Path:
    """``image`` itself, or the image named ``<stem>.*`` in the folder ``image`` (for the plane
    file ``<img>-NNNN.*`` of a stack, ``<img>.*``)."""
    image = Path(image)
    if image.is_file():
        return image
    matches = (_images_named(image, annotation_file.stem)
               or _images_named(image, split_plane(annotation_file.name)[0]))
    if not matches:
        raise InputError(f"no image named {annotation_file.stem}.* in {image} for {annotation_file}")
    return matches[0]

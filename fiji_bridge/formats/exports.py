"""Export the ROIs of one image or a folder of images into training-data formats."""
from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats import annotatorj, coco
from fiji_bridge.formats.annotatorj import EXPORT_FORMATS
from fiji_bridge.formats.atomic import WriteBatch
from fiji_bridge.formats.coco import ImageAnnotations
from fiji_bridge.formats.images import image_files, image_shape, plane_calibration, stack_dims
from fiji_bridge.formats.bbox import fills_pixels
from fiji_bridge.formats.classes import groups_in
from fiji_bridge.formats.masks import covered_by_later
from fiji_bridge.formats.plane_files import per_plane, split_plane
from fiji_bridge.rois.planes import one_per_plane
from fiji_bridge.rois.roiset import read_roiset


def export_annotations(items: Sequence[ImageAnnotations], out_dir: str | os.PathLike,
                       formats: str | Sequence[str], *, overwrite: bool = False,
                       yolo_mode: str = "boxes", label_values: str = "index",
                       class_names: Mapping[int, str] | None = None) -> list[Path]:
    """Write every image's ROIs in each of ``formats`` under ``out_dir`` (AnnotatorJ layout).

    ``label_values`` "index" (ROI index + 1) or "name" (integer ROI names, others max + 1)
    sets the values of the main label masks; ``class_names`` names COCO/YOLO classes.

    Everything is computed and checked first; files are then written atomically, and an
    existing file is only replaced with ``overwrite=True``. Returns the files written.
    """
    if isinstance(formats, str):
        formats = parse_formats([formats])
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats:
        raise InputError(f"unknown export format {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(EXPORT_FORMATS)}")
    out = Path(out_dir)
    batch = WriteBatch(overwrite=overwrite)
    stems: dict[str, str] = {}
    for item in items:
        if len(item.shape) != 2 or min(item.shape) <= 0:
            raise InputError(f"the size of image {item.file_name} is unknown ({item.shape}); "
                             "give the image (or its folder) so the ROIs can be drawn on it")
        stem = annotatorj.image_stem(item.file_name)
        if stem in stems:
            raise InputError(f"images {stems[stem]} and {item.file_name} would write the same "
                             f"files ({stem}.*); rename one of them")
        stems[stem] = item.file_name
    all_groups = groups_in(a for item in items for a in item.annotations)
    for fmt in formats:
        if fmt == "coco":
            text = coco.write_text(coco.coco_dataset(items, class_names))
            batch.add_text(out / annotatorj.FOLDERS["coco"] / annotatorj.COCO_FILE, text)
            continue
        for item in items:
            annotatorj.add_image_files(batch, out, fmt, annotatorj.image_stem(item.file_name),
                                       item.annotations, item.shape, yolo_mode=yolo_mode,
                                       label_values=label_values, calibration=item.calibration)
        for stale in _unwritten_plane_files(out, fmt, items):
            batch.remove(stale)
        if fmt == "yolo":
            annotatorj.add_yolo_classes(batch, out, [0, *all_groups], class_names)
    return batch.commit()


def _unwritten_plane_files(out: Path, fmt: str, items: Sequence[ImageAnnotations]) -> list[Path]:
    """Existing ``<img>-NNNN`` files (``Class_NN/`` copies too) of format ``fmt`` from an earlier
    export of a stack that this export writes planes of, for planes it no longer writes (their
    ROIs were deleted): left in place they would still hold those ROIs."""
    written: dict[str, set[str]] = {}
    for item in items:
        if item.plane:
            written.setdefault(split_plane(item.file_name)[0], set()).add(annotatorj.image_stem(item.file_name))
    stale = []
    for base, stems in written.items():
        main = annotatorj.output_file(out, fmt, base)
        if not main.parent.is_dir():
            continue
        folders = [main.parent, *annotatorj.class_folders(main.parent)]
        for folder in folders:
            for path in sorted(folder.glob(f"{glob.escape(base)}-*{main.suffix}")):
                name, plane = split_plane(path.name)
                if name == base and plane and path.stem not in stems and path.is_file():
                    stale.append(path)
    return stale


def parse_formats(values: list[str]) -> list[str]:
    """``["labels,coco", "bbox"]`` -> ``["labels", "coco", "bbox"]``; ``all`` = every format."""
    names = [v.strip().lower() for item in values for v in item.split(",") if v.strip()]
    if "all" in names:
        return list(EXPORT_FORMATS)
    unknown = [n for n in names if n not in EXPORT_FORMATS]
    if unknown or not names:
        raise InputError(f"unknown format {', '.join(unknown) or '(none)'}; choose from "
                         f"{', '.join(EXPORT_FORMATS)} or all")
    return list(dict.fromkeys(names))


def pair_rois_with_images(rois: str | os.PathLike, image: str | os.PathLike) -> list[ImageAnnotations]:
    """Images with their ROIs: one ROI file + one image, or a folder of ``<img>_ROIs.zip`` files
    + an image folder (images without ROI file are left out; none at all is an error)."""
    rois, image = Path(rois), Path(image)
    if rois.is_file():
        if image.is_dir():
            raise InputError(f"{rois} is one ROI file, so --image must be one image, not the folder {image}")
        return _paired(image, rois)
    if not rois.is_dir():
        raise InputError(f"ROI file or folder {rois} does not exist")
    images = image_files(image) if image.is_dir() else [image]
    items = []
    for img in images:
        zip_path = _find_roiset(rois, img)
        if zip_path is not None:
            items += _paired(img, zip_path)
    if not items:
        raise InputError(f"no <image>_ROIs.zip in {rois} matches an image in {image}")
    return items


def _paired(image: Path, roiset: Path) -> list[ImageAnnotations]:
    """An image with the ROIs of its zip, one item per plane of a stack (``<img>-NNNN``, see
    ``fiji_bridge.formats.plane_files.per_plane``). On a stack, an ROI with a hyperstack position
    belongs to its (z, t) plane, and an ROI without a position that ImageJ's ROI Manager named
    after its slice (``0002-yyyy-xxxx``) to that slice; on a hyperstack with channels, an ROI on
    any channel of a plane belongs to the plane (its first channel). See ``fiji_bridge.rois.planes``."""
    anns = read_roiset(roiset)
    dims = stack_dims(image)
    if dims.size > 1:
        anns = one_per_plane(anns, dims)
    return per_plane(ImageAnnotations(image.name, image_shape(image), anns,
                                      calibration=plane_calibration(image)), dims)


def unpaired_roisets(rois: str | os.PathLike, image: str | os.PathLike) -> list[Path]:
    """``<img>_ROIs.zip`` files in the ROI folder (or its class subfolders) with no image in
    ``image`` (a folder); [] when ``rois`` is one file."""
    rois, image = Path(rois), Path(image)
    if not rois.is_dir() or not image.is_dir():
        return []
    stems = {annotatorj.image_stem(img) for img in image_files(image)}
    zips = sorted([*rois.glob(f"*{annotatorj.ROIS_SUFFIX}"), *rois.glob(f"*/*{annotatorj.ROIS_SUFFIX}")])
    return [z for z in zips if annotatorj.image_stem_of_roiset(z) not in stems]


def roi_count(items: Sequence[ImageAnnotations]) -> int:
    """The ROIs of ``items``, each once: one shared by the slices of a stack, or copied per
    plane (``rois.planes.one_per_plane``, the copies share its outline), is one."""
    return len({id(ann.polygon) for item in items for ann in item.annotations})


def left_out(items: Sequence[ImageAnnotations]) -> list[str]:
    """What an export leaves out, one line per ROI: line and point ROIs (no pixels) and ROIs
    that fill no pixel of their image (a ROI shared by the slices of a stack is named once)."""
    seen: set[int] = set()
    lines = []
    for item in items:
        for ann in item.annotations:
            if id(ann.polygon) in seen:  # copies per plane share their outline (rois.planes.one_per_plane)
                continue
            seen.add(id(ann.polygon))
            if not ann.is_area:
                lines.append(f"{item.file_name}: {ann.name or ann.roi_type} is a {ann.roi_type} (no area)")
            elif not fills_pixels(ann, item.shape):
                lines.append(f"{item.file_name}: {ann.name or ann.roi_type} {_why_no_pixel(ann, item.shape)} the "
                             f"{item.shape[1]}x{item.shape[0]} image")
    return lines


def _why_no_pixel(ann: Annotation, shape: tuple[int, int]) -> str:
    """Why an area ROI fills no pixel: it lies outside the image, or inside but around no pixel centre."""
    points = np.concatenate(ann.paths)
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    inside = x1 > 0 and y1 > 0 and x0 < shape[1] and y0 < shape[0]
    return "is too small to cover a pixel centre of" if inside else "lies outside"


def covered_note(items: Sequence[ImageAnnotations], formats: Sequence[str], shown: int = 5) -> str | None:
    """A line saying how many ROIs do not show in the label/binary masks because later ROIs
    cover all their pixels, naming the first ``shown``; None when there are none (or neither
    format is written). A ROI shared by the slices of a stack counts once."""
    kinds = [kind for fmt, kind in (("labels", "label"), ("binary", "binary")) if fmt in formats]
    if not kinds:
        return None
    seen: set[int] = set()
    names = []
    for item in items:
        for i in covered_by_later(item.annotations, item.shape):
            ann = item.annotations[i]
            if id(ann.polygon) not in seen:
                seen.add(id(ann.polygon))
                names.append(f"{item.file_name}: {ann.name or ann.roi_type}")
    if not names:
        return None
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return (f"{len(names)} ROI(s) not visible in the {' and '.join(kinds)} masks because later "
            f"ROIs cover all their pixels: {', '.join(names[:shown])}{more}")


def _find_roiset(folder: Path, image: Path) -> Path | None:
    """``<img>_ROIs.zip`` in ``folder`` or in one of its class subfolders."""
    name = annotatorj.roiset_name(image)
    direct = folder / name
    if direct.is_file():
        return direct
    nested = sorted(folder.glob(f"*/{glob.escape(name)}"))
    if len(nested) > 1:
        raise InputError(f"several ROI files for {image.name}: {', '.join(map(str, nested))}; "
                         "point to one of the folders")
    return nested[0] if nested else None

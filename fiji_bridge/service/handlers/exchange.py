"""Service commands behind Plugins > Fiji Bridge > Export Annotations, Import Masks,
Import OpSeF and Export OpSeF.

Everything is read and checked before anything changes: files are written all or none
(fiji_bridge.formats), and the ROI Manager only changes once the new ROIs are ready. An import
adds to the ROI Manager; it is emptied first only with the ``clear`` option.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jpype

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats.annotatorj import image_stem
from fiji_bridge.formats.coco import ImageAnnotations
from fiji_bridge.formats.exports import (export_annotations, left_out, pair_rois_with_images, parse_formats,
                                         per_slice, unpaired_roisets)
from fiji_bridge.formats.imports import IMPORT_KINDS, detect_kind, import_annotations
from fiji_bridge.formats.opsef import export_opsef, load_opsef
from fiji_bridge.ij.images import numpy_to_imageplus
from fiji_bridge.ij.positions import place, planes_of, stack_dims
from fiji_bridge.ij.rois import rois_from_manager, rois_to_manager
from fiji_bridge.rois.planes import one_per_plane, plane_start, slice_from_name
from fiji_bridge.service.commands import command
from fiji_bridge.service.options import flag

OPSEF_LIST_PROPERTY = "fiji_bridge.opsef_list"




def _text(options: dict[str, Any], key: str, what: str, *, required: bool = True) -> str:
    value = str(options.get(key) or "").strip()
    if required and not value:
        raise InputError(f"{what} is missing: give the option {key}=...")
    return value


def _current_image(image: Any) -> Any:
    return image if image is not None else jpype.JClass("ij.WindowManager").getCurrentImage()


@command("export_annotations")
def export_annotations_command(bridge: Any, image: Any = None, **options: Any) -> int:
    """Write annotations in training-data formats; returns the number of files written.

    Options: ``output`` folder (required); ``formats`` "labels,coco,..." or "all"; ``folder``:
    a folder of images whose ``<img>_ROIs.zip`` files (in ``rois``, default the same folder)
    are exported - without it, the current image with the ROI Manager's ROIs;
    ``source`` "folder" requires ``folder``; ``yolo`` "boxes" or "polygons"; ``values`` "index"
    or "name" for label masks; ``overwrite``.
    """
    output = _text(options, "output", "the output folder")
    formats = parse_formats([str(options.get("formats") or "labels")])
    yolo_mode = str(options.get("yolo") or "boxes").strip().lower()
    if yolo_mode not in ("boxes", "polygons"):
        raise InputError(f"option yolo={yolo_mode!r} is not one of: boxes, polygons")
    label_values = str(options.get("values") or "index").strip().lower()
    if label_values not in ("index", "name"):
        raise InputError(f"option values={label_values!r} is not one of: index, name")
    folder = _text(options, "folder", "", required=False)
    if not folder and str(options.get("source", "")).strip().lower() == "folder":
        raise InputError("Export Annotations from a folder needs the image folder")
    skipped: list[str] = []
    if folder:
        rois = _text(options, "rois", "", required=False) or folder
        items = pair_rois_with_images(rois, folder)
        skipped = [f"{z}: no image of that name in {folder}" for z in unpaired_roisets(rois, folder)]
    else:
        imp = _current_image(image)
        if imp is None:
            raise InputError("Export Annotations needs an open image (or a folder of images)")
        anns = rois_from_manager(bridge)
        if not anns:
            raise InputError("the ROI Manager is empty (or not open); add ROIs first")
        items = _image_items(imp, anns)
    written = export_annotations(items, output, formats, overwrite=flag(options.get("overwrite", False)),
                                 yolo_mode=yolo_mode, label_values=label_values)
    _log_skipped(left_out(items) + skipped)
    return len(written)


def _log_skipped(skipped: list[str]) -> None:
    """Say in the Log window what was left out (line/point ROIs, ROIs outside the image, ROI
    files without an image)."""
    if skipped:
        shown = "\n  ".join(skipped[:10]) + ("\n  ..." if len(skipped) > 10 else "")
        jpype.JClass("ij.IJ").log(f"Export Annotations: {len(skipped)} left out:\n  {shown}")


def _image_items(imp: Any, anns: list[Annotation]) -> list[ImageAnnotations]:
    """The image with its ROIs; a stack with ROIs on several slices gives one item per slice
    (``<title>-NNNN``, see ``per_slice``). On a hyperstack with channels ROIs on any channel
    of a plane, or with a hyperstack position, belong to that plane (``fiji_bridge.ij.positions``)."""
    title = str(imp.getTitle()).replace("/", "_").replace("\\", "_")  # a title, not a path: "a 1/2" -> "a 1_2"
    item = ImageAnnotations(title, (int(imp.getHeight()), int(imp.getWidth())), anns)
    if imp.getStackSize() == 1:
        return [item]
    item.annotations = one_per_plane(anns, stack_dims(imp))
    return per_slice(item)


@command("import_masks")
def import_masks_command(bridge: Any, image: Any = None, **options: Any) -> int:
    """Add the objects of a mask, box, YOLO, COCO or ROI file to the ROI Manager; returns how many.

    Options: ``file`` (required); ``kind`` (default "auto"); ``connectivity`` 4 or 8 for binary
    masks; ``clear`` empties the ROI Manager first. The current image gives the size that masks
    must have and YOLO files need; on a stack, ROIs without a slice go to the current one.
    """
    path = Path(_text(options, "file", "the annotation file"))
    kind = str(options.get("kind") or "auto").strip().lower()
    if kind not in IMPORT_KINDS:
        raise InputError(f"option kind={kind!r} is not one of: {', '.join(IMPORT_KINDS)}")
    connectivity = int(options.get("connectivity") or 8)
    imp = _current_image(image)
    shape = (int(imp.getHeight()), int(imp.getWidth())) if imp is not None else None
    kind = detect_kind(path) if kind == "auto" and path.exists() else kind
    items = import_annotations(path, kind, shape=shape, connectivity=connectivity)
    anns = _pick_image(items, imp, path).annotations
    if not anns:
        raise InputError(f"{path} holds no objects; nothing to add")
    if imp is not None and kind == "rois":
        _place_rois(imp, anns, path)
    elif imp is not None:
        _place_on_planes(imp, anns, path)
    rois_to_manager(bridge, anns, clear=flag(options.get("clear", False)))
    return len(anns)


def _place_rois(imp: Any, anns: list[Annotation], path: Path) -> None:
    """ROIs of an ROI file keep their stack or hyperstack positions (or the slice in an ImageJ
    name such as 0002-yyyy-xxxx), snapped to their (z, t) plane and shown on all its channels;
    one whose hyperstack position matches every plane goes on every plane, one matching some
    planes (slice or frame 0) stays as ImageJ shows it, and ROIs without any position go to the
    displayed plane. On a stack, an ROI beyond its last slice is refused."""
    if imp.getStackSize() == 1:
        return
    for ann in anns:
        found = planes_of(imp, ann)
        if len(found) > 1:
            continue
        if found[0] > int(imp.getStackSize()):
            where = f"at {_ctz(ann.hyperstack)}" if ann.hyperstack else \
                f"on slice {ann.position or slice_from_name(ann.name)}"
            raise InputError(f"{path}: ROI {ann.name} is {where}, but \"{imp.getTitle()}\" has "
                             f"{_extent(imp)}; open the image it was drawn on")
        if found[0] or ann.hyperstack is not None:
            place(imp, ann, found[0])
        else:
            place(imp, ann)


def _ctz(ctz: tuple[int, int, int]) -> str:
    return "channel {}, slice {}, frame {}".format(*ctz)


def _extent(imp: Any) -> str:
    if imp.isHyperStack() or imp.getNChannels() > 1:
        return f"{imp.getNChannels()} channel(s), {imp.getNSlices()} slice(s) and {imp.getNFrames()} frame(s)"
    return f"{imp.getStackSize()} slices"


def _place_on_planes(imp: Any, anns: list[Annotation], path: Path) -> None:
    """Objects of slice n of an imported mask stack go to (z, t) plane n of the image; objects
    without a slice go to the displayed plane. More slices than the image has planes is refused."""
    planes = int(imp.getNSlices()) * int(imp.getNFrames())
    deepest = max((a.position for a in anns), default=0)
    if deepest > planes:
        raise InputError(f"{path} has objects on slice {deepest}, but \"{imp.getTitle()}\" has "
                         f"{planes} plane(s); open the matching stack first")
    if imp.getStackSize() == 1:
        return
    dims = stack_dims(imp)
    for ann in anns:
        if ann.position:
            place(imp, ann, plane_start(ann.position, dims))
        else:
            place(imp, ann)


def _pick_image(items: list[ImageAnnotations], imp: Any, path: Path) -> ImageAnnotations:
    """The one image of a file, or the one named like the current image (COCO)."""
    if len(items) == 1:
        return items[0]
    if imp is not None:
        title = image_stem(str(imp.getTitle()))
        matches = [item for item in items if image_stem(item.file_name) == title]
        if len(matches) == 1:
            return matches[0]
    names = ", ".join(item.file_name for item in items[:5]) + (", ..." if len(items) > 5 else "")
    raise InputError(f"{path} annotates {len(items)} images ({names}); open the one to import "
                     "(its title must match the file name) and run Import Masks again")


@command("import_opsef")
def import_opsef_command(bridge: Any, **options: Any) -> int:
    """Open an OpSeF project's images as one stack and add every slice's ROIs to the ROI Manager.

    Options: ``list`` the FilePairList (required); ``clear`` empties the ROI Manager first.
    Returns the number of ROIs added.
    """
    path = Path(_text(options, "list", "the FilePairList"))
    stack = load_opsef(path)
    dims = ("z", "y", "x", "rgb") if stack.images.ndim == 4 else ("z", "y", "x")
    imp = numpy_to_imageplus(stack.images, dims=dims if len(stack.images) > 1 else dims[1:], title=path.stem)
    if imp.getStackSize() > 1:
        for i, pair in enumerate(stack.project.pairs, start=1):
            imp.getStack().setSliceLabel(pair.image.name, i)
    imp.setProperty(OPSEF_LIST_PROPERTY, str(path.absolute()))
    rois_to_manager(bridge, stack.annotations, clear=flag(options.get("clear", False)))
    imp.show()
    return len(stack.annotations)


@command("export_opsef")
def export_opsef_command(bridge: Any, image: Any = None, **options: Any) -> int:
    """Write the ROI Manager's ROIs (position = slice) back into the OpSeF project.

    Options: ``list`` the FilePairList (default: the one the current stack was imported from);
    ``overwrite`` replaces the files of an earlier export. Returns the number of files written.
    """
    path = _text(options, "list", "", required=False)
    imp = _current_image(image)
    if not path and imp is not None and imp.getProperty(OPSEF_LIST_PROPERTY) is not None:
        path = str(imp.getProperty(OPSEF_LIST_PROPERTY))
    if not path:
        raise InputError("the FilePairList is missing: give the option list=... "
                         "(or run it on a stack opened with Import OpSeF)")
    anns = rois_from_manager(bridge)
    if not anns:
        raise InputError("the ROI Manager is empty (or not open); add ROIs first")
    return len(export_opsef(path, anns, overwrite=flag(options.get("overwrite", False))))

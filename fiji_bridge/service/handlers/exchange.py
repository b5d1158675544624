"""Service commands behind Plugins > Fiji Bridge > Export Annotations, Import Masks,
Import OpSeF and Export OpSeF.

Everything is read and checked before anything changes: files are written all or none
(fiji_bridge.formats), and the ROI Manager only changes once the new ROIs are ready. An import
adds to the ROI Manager; it is emptied first only with the ``clear`` option.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jpype

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats.annotatorj import image_stem
from fiji_bridge.formats.coco import ImageAnnotations
from fiji_bridge.formats.images import Calibration
from fiji_bridge.formats.exports import (covered_note, export_annotations, left_out, pair_rois_with_images,
                                         parse_formats, unpaired_roisets)
from fiji_bridge.formats.imports import IMPORT_KINDS, check_coco_size, class_option, detect_kind, import_annotations
from fiji_bridge.formats.opsef import export_opsef, load_opsef
from fiji_bridge.formats.plane_files import per_plane, plane_named
from fiji_bridge.ij.images import numpy_to_imageplus
from fiji_bridge.ij.positions import place, planes_of, stack_dims
from fiji_bridge.ij.rois import rois_from_manager, rois_to_manager
from fiji_bridge.rois.planes import one_per_plane, plane_start, slice_from_name
from fiji_bridge.service.commands import command
from fiji_bridge.service.options import flag

OPSEF_LIST_PROPERTY = "fiji_bridge.opsef_list"
# Export Annotations' macro keys: the dialog's checkbox keys and the command line's format names
MACRO_FORMATS = {"label": "labels", "layered": "layered", "binary": "binary", "bounding": "bbox", "yolo": "yolo",
                 "coco": "coco", "labels": "labels", "bbox": "bbox", "all": "all"}
MACRO_KEYS = ("source", "image", "roi", "output", "boxes", "values")
_MACRO_WORD = re.compile(r"([^\s=\[\]]+)(=(?:\[[^\]]*\]|\S*))?")




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

    Options: ``output`` folder (required); ``formats`` "labels,coco,..." or "all" and/or
    ``macro``, the option string of a macro call (its format words, see ``_macro_formats``); ``folder``:
    a folder of images whose ``<img>_ROIs.zip`` files (in ``rois``, default the same folder)
    are exported - without it, the current image with the ROI Manager's ROIs;
    ``source`` "folder" requires ``folder``; ``yolo`` "boxes" or "polygons"; ``values`` "index"
    or "name" for label masks; ``overwrite``.
    """
    output = _text(options, "output", "the output folder")
    formats = _export_formats(options)
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
    covered = covered_note(items, formats)
    if covered:
        jpype.JClass("ij.IJ").log(f"Export Annotations: {covered}")
    return len(written)


def _export_formats(options: dict[str, Any]) -> list[str]:
    """The formats ticked in the dialog plus those named in a macro's option string; none is an error."""
    words = [str(options.get("formats") or "")]
    if options.get("macro") is not None:
        words += _macro_formats(str(options["macro"]))
    if not "".join(words).strip():
        raise InputError("Export Annotations: no format chosen, so nothing was written; tick at least one "
                         f"(macro keys: {' '.join(MACRO_FORMATS)})")
    return parse_formats(words)


def _macro_formats(macro: str) -> list[str]:
    """Formats named in a macro's option string: the dialog's keys or the command line's names
    (``MACRO_FORMATS``). A word or ``key=`` the command does not know is refused, because
    ImageJ would silently ignore it."""
    formats = []
    for match in _MACRO_WORD.finditer(macro):
        key, valued = match.group(1).lower(), match.group(2) is not None
        if (key not in MACRO_KEYS) if valued else (key not in MACRO_FORMATS and key != "overwrite"):
            raise InputError(f"Export Annotations: unknown macro option {match.group(0)!r}; formats: "
                             f"{' '.join(MACRO_FORMATS)}; other options: {'= '.join(MACRO_KEYS)}= overwrite")
        if not valued and key in MACRO_FORMATS:
            formats.append(MACRO_FORMATS[key])
    return formats


def _log_skipped(skipped: list[str]) -> None:
    """Say in the Log window what was left out (line/point ROIs, ROIs outside the image, ROI
    files without an image)."""
    if skipped:
        shown = "\n  ".join(skipped[:10]) + ("\n  ..." if len(skipped) > 10 else "")
        jpype.JClass("ij.IJ").log(f"Export Annotations: {len(skipped)} left out:\n  {shown}")


def _image_items(imp: Any, anns: list[Annotation]) -> list[ImageAnnotations]:
    """The image with its ROIs; a stack of several (z, t) planes gives one item per plane with
    ROIs (``<title>-NNNN``, see ``per_plane``). On a hyperstack with channels ROIs on any channel
    of a plane, or with a hyperstack position, belong to that plane (``fiji_bridge.ij.positions``)."""
    item = ImageAnnotations(_file_title(imp), (int(imp.getHeight()), int(imp.getWidth())), anns,
                            calibration=_calibration(imp))
    if imp.getStackSize() == 1:
        return [item]
    dims = stack_dims(imp)
    item.annotations = one_per_plane(anns, dims)
    return per_plane(item, dims)


def _calibration(imp: Any) -> Calibration | None:
    """The image's pixel size and unit (None when uncalibrated), for the exported masks."""
    cal = imp.getCalibration()
    if not cal.scaled():
        return None
    return Calibration(1.0 / float(cal.pixelWidth), 1.0 / float(cal.pixelHeight), str(cal.getUnit()))


def _file_title(imp: Any) -> str:
    """The image's title as exports name its files: a title, not a path ("a 1/2" -> "a 1_2")."""
    return str(imp.getTitle()).replace("/", "_").replace("\\", "_")


@command("import_masks")
def import_masks_command(bridge: Any, image: Any = None, **options: Any) -> int:
    """Add the objects of a mask, box, YOLO, COCO or ROI file to the ROI Manager; returns how many.

    Options: ``file`` (required); ``kind`` (default "auto"); ``connectivity`` 4 or 8 for binary
    masks; ``class``: give every ROI this class (ROI group), instead of the file's classes or
    its ``Class_NN`` folder; ``clear`` empties the ROI Manager first. The current image gives the size that masks
    must have and YOLO files need; on a stack, ROIs without a slice go to the plane NNNN that a
    file (or COCO entry) named ``<title>-NNNN`` is for, else to the displayed plane.
    """
    path = Path(_text(options, "file", "the annotation file"))
    kind = str(options.get("kind") or "auto").strip().lower()
    if kind not in IMPORT_KINDS:
        raise InputError(f"option kind={kind!r} is not one of: {', '.join(IMPORT_KINDS)}")
    connectivity = int(options.get("connectivity") or 8)
    given = options.get("class")
    group = class_option("" if given is None else str(given), "option class")
    imp = _current_image(image)
    shape = (int(imp.getHeight()), int(imp.getWidth())) if imp is not None else None
    if path.is_dir():
        raise InputError(f"{path} is a folder; Import Masks reads one file: choose a file in it "
                         "(fiji-bridge import on the command line reads folders)")
    if kind == "auto" and path.exists():
        kind = detect_kind(path, "the Kind in the dialog (macro option kind=..., one of "
                                 f"{', '.join(IMPORT_KINDS[1:])})")
    items = import_annotations(path, kind, shape=shape, connectivity=connectivity)
    picked = _pick_images(items, imp, path)
    if kind == "coco" and imp is not None:
        for item, _ in picked:
            _check_coco_image(item, imp, path)
    anns = [ann for item, _ in picked for ann in item.annotations]
    if not anns:
        raise InputError(f"{path} holds no objects; nothing to add")
    for ann in anns if group is not None else ():
        ann.group = group
    if imp is not None:
        for item, plane in picked:
            if kind == "rois":
                _place_rois(imp, item.annotations, path, plane)
            else:
                _place_on_planes(imp, item.annotations, path, plane)
    rois_to_manager(bridge, anns, clear=flag(options.get("clear", False)))
    return len(anns)


def _check_coco_image(item: ImageAnnotations, imp: Any, path: Path) -> None:
    """A COCO image of another size than the current image is refused; another name only
    noted in the Log."""
    title = str(imp.getTitle())
    check_coco_size(path, item, f'the open image "{title}"', (int(imp.getHeight()), int(imp.getWidth())))
    if image_stem(item.file_name) != image_stem(title) and not plane_named(item.file_name, _file_title(imp)):
        jpype.JClass("ij.IJ").log(f'Import Masks: {path} annotates {item.file_name}; its ROIs were added '
                                  f'to "{title}", which has the same size')


def _place_rois(imp: Any, anns: list[Annotation], path: Path, plane: int = 0) -> None:
    """ROIs of an ROI file keep their stack or hyperstack positions (or the slice in an ImageJ
    name such as 0002-yyyy-xxxx), snapped to their (z, t) plane and shown on all its channels;
    one whose hyperstack position matches every plane goes on every plane, one matching some
    planes (slice or frame 0) stays as ImageJ shows it, and ROIs without any position go to
    (z, t) plane ``plane`` (the file is ``<title>-NNNN_ROIs.zip``), else to the displayed plane.
    On a stack, an ROI beyond its last slice is refused."""
    _check_plane(imp, path, plane)
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
            _place_unpositioned(imp, ann, plane)


def _ctz(ctz: tuple[int, int, int]) -> str:
    return "channel {}, slice {}, frame {}".format(*ctz)


def _extent(imp: Any) -> str:
    if imp.isHyperStack() or imp.getNChannels() > 1:
        return f"{imp.getNChannels()} channel(s), {imp.getNSlices()} slice(s) and {imp.getNFrames()} frame(s)"
    return f"{imp.getStackSize()} slices"


def _place_on_planes(imp: Any, anns: list[Annotation], path: Path, plane: int = 0) -> None:
    """Objects of slice n of an imported mask stack go to (z, t) plane n of the image; objects
    without a slice go to (z, t) plane ``plane`` (named by the file), else to the displayed
    plane. More slices (or a plane number) than the image has planes is refused."""
    _check_plane(imp, path, plane)
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
            _place_unpositioned(imp, ann, plane)


def _check_plane(imp: Any, path: Path, plane: int) -> None:
    planes = int(imp.getNSlices()) * int(imp.getNFrames())
    if plane > planes:
        raise InputError(f"{path} is for plane {plane} of a stack (its name ends in -{plane:04d}), but "
                         f"\"{imp.getTitle()}\" has {planes} plane(s); open the stack it was exported from")


def _place_unpositioned(imp: Any, ann: Annotation, plane: int) -> None:
    """An object without a slice of its own: on (z, t) plane ``plane``, else the displayed one."""
    if plane:
        place(imp, ann, plane_start(plane, stack_dims(imp)))
    else:
        place(imp, ann)


def _pick_images(items: list[ImageAnnotations], imp: Any, path: Path) -> list[tuple[ImageAnnotations, int]]:
    """The images of a file to import on the current image, each with the (z, t) plane it is
    for (0: none): the one named like the current image; else those named ``<title>-NNNN``,
    an export's planes of the current stack (``fiji_bridge.formats.plane_files``); else the
    file's only image."""
    if imp is not None:
        title = _file_title(imp)
        matches = [item for item in items if image_stem(item.file_name) == image_stem(title)]
        if len(matches) == 1:
            return [(matches[0], 0)]
        planes = [(item, plane_named(item.file_name, title)) for item in items]
        if not matches and any(plane for _, plane in planes):
            return [(item, plane) for item, plane in planes if plane]
    if len(items) == 1:
        return [(items[0], 0)]
    names = ", ".join(item.file_name for item in items[:5]) + (", ..." if len(items) > 5 else "")
    raise InputError(f"{path} annotates {len(items)} images ({names}); open the one to import "
                     "(its title must match the file name; for a stack's planes <img>-NNNN, the stack <img>) "
                     "and run Import Masks again")


@command("import_opsef")
def import_opsef_command(bridge: Any, **options: Any) -> int:
    """Open an OpSeF project's images as one stack and add every slice's ROIs to the ROI Manager.

    Options: ``list`` the FilePairList (required); ``clear`` empties the ROI Manager first.
    Returns the number of ROIs added.
    """
    path = Path(_text(options, "list", "the FilePairList"))
    stack = load_opsef(path)
    dims = ("z", "y", "x", "rgb") if stack.images.ndim == 4 else ("z", "y", "x")
    images = stack.images if len(stack.images) > 1 else stack.images[0]  # one line: one image
    imp = numpy_to_imageplus(images, dims=dims if len(stack.images) > 1 else dims[1:], title=path.stem)
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

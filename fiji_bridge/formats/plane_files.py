"""File names of the planes of a stack: which files an export writes for each (z, t) plane, and
which plane an imported file names (pure Python).

An image of more than one (z, t) plane is exported plane by plane, and every file says its plane:
``<img>-NNNN``, NNNN = the plane's number in ImageJ's (z, t) order, ``(t - 1) * slices + z``
(the slice of a plain stack, the frame of a time series; a hyperstack's channels are one plane, so
never its channel-interleaved stack index). An image of one plane (with its channels, if any)
keeps ``<img>``, as AnnotatorJ names it. A file ``<img>-NNNN.*`` imported on the image ``<img>``
(a COCO entry of that name too) gives ROIs on its plane NNNN.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats.annotatorj import image_stem
from fiji_bridge.formats.coco import ImageAnnotations
from fiji_bridge.rois.planes import StackDims, place, plane_number, plane_start, slice_from_name

_PLANE_STEM = re.compile(r"^(?P<base>.+)-(?P<plane>\d{4,})$")


def plane_stem(stem: str, plane: int) -> str:
    """``<img>-NNNN``: the stem of plane ``plane``'s files of image ``stem``."""
    return f"{stem}-{plane:04d}"


def split_plane(name: str) -> tuple[str, int]:
    """(``<img>``, NNNN) of a file or image name ``<img>-NNNN[.ext]``; (its stem, 0) otherwise."""
    stem = image_stem(name)
    match = _PLANE_STEM.match(stem)
    if match and int(match["plane"]) > 0:
        return match["base"], int(match["plane"])
    return stem, 0


def plane_named(name: str, image: str) -> int:
    """The plane of the image ``image`` (a file name or ImageJ title) that the file ``name`` is
    written for (``<img>-NNNN.*``), else 0."""
    base, plane = split_plane(name)
    return plane if plane and base == image_stem(image) else 0


def per_plane(item: ImageAnnotations, dims: StackDims) -> list[ImageAnnotations]:
    """The items an export writes for an image of ``dims`` whose annotations have their plane's
    stack index as position (0: every plane; ``fiji_bridge.rois.planes.one_per_plane``).

    An image of several planes gives one item ``<img>-NNNN.tif`` per plane holding ROIs, with
    the plane's ROIs and those without a position (which put every plane in); an image of one
    plane (with its channels) the item itself. An ROI on a slice, frame or channel the image
    lacks is refused."""
    if dims.size == 1:
        return [item]
    beyond = [a for a in item.annotations if a.position > dims.size]
    if beyond:
        more = f" (and {len(beyond) - 1} more ROI(s) beyond its planes)" if len(beyond) > 1 else ""
        raise InputError(f"ROI {beyond[0].name or beyond[0].roi_type} is {_where(beyond[0])}{more}, but "
                         f"{item.file_name} has {_extent(dims)}; remove {'them' if more else 'it'} or "
                         "export the ROIs with the image they were drawn on")
    if dims.planes == 1:
        return [item]
    placed = [a for a in item.annotations if a.is_area] or item.annotations  # lines and points fill no plane
    numbers = {plane_number(a.position, dims) for a in placed if a.position}
    if any(a.position == 0 for a in placed):
        numbers = set(range(1, dims.planes + 1))
    stem = image_stem(item.file_name)
    return [ImageAnnotations(f"{plane_stem(stem, p)}.tif", item.shape,
                             [a for a in item.annotations if a.position in (0, plane_start(p, dims))], plane=p,
                             calibration=item.calibration)
            for p in sorted(numbers)]


def _where(ann: Annotation) -> str:
    if ann.hyperstack is not None:
        return "at channel {}, slice {}, frame {}".format(*ann.hyperstack)
    return f"on slice {ann.position or slice_from_name(ann.name)}"


def _extent(dims: StackDims) -> str:
    if dims.channels > 1 or dims.frames > 1:
        return f"{dims.channels} channel(s), {dims.slices} slice(s) and {dims.frames} frame(s)"
    return f"{dims.slices} slices"


def on_plane(item: ImageAnnotations, source: str, image: str, plane: int, dims: StackDims) -> ImageAnnotations:
    """``item``, read from the file ``source``, as ROIs of the image ``image`` (of ``dims``):
    those without a slice of their own go to plane ``plane``. Refused beyond the image's planes."""
    if plane > dims.planes:
        raise InputError(f"{source} holds plane {plane} of a stack, but {image} has {dims.planes} "
                         "plane(s); give the stack it was exported from")
    for ann in item.annotations:
        if not ann.position:
            place(ann, plane_start(plane, dims), dims)
    return ImageAnnotations(image, item.shape, item.annotations, plane=plane)


def merge_planes(items: Sequence[ImageAnnotations]) -> list[ImageAnnotations]:
    """Imported items of the planes of one image (``plane`` > 0, named after the image) as one
    item per image, in order, so they go into one ``<img>_ROIs.zip``. A plane given twice is refused."""
    merged: list[ImageAnnotations] = []
    by_image: dict[str, tuple[ImageAnnotations, set[int]]] = {}
    for item in items:
        if not item.plane:
            merged.append(item)
            continue
        if item.file_name not in by_image:
            whole = ImageAnnotations(item.file_name, item.shape, [])
            by_image[item.file_name] = (whole, set())
            merged.append(whole)
        whole, planes = by_image[item.file_name]
        if item.plane in planes:
            raise InputError(f"two of the files give plane {item.plane} of {item.file_name}; "
                             "import them into separate output folders")
        planes.add(item.plane)
        whole.annotations += item.annotations
    return merged

"""Service commands "labels_to_rois" and "rois_to_labels" (Plugins > Fiji Bridge menu).

Both check everything before they change anything: on bad input the ROI Manager and the
open images stay as they were and the caller gets a plain-words error.
"""
from __future__ import annotations

import re
from typing import Any

import jpype
import numpy as np

from fiji_bridge.errors import InputError
from fiji_bridge.ij.images import imageplus_to_numpy, numpy_to_imageplus, processor_to_numpy
from fiji_bridge.ij.positions import place, planes_of
from fiji_bridge.ij.rois import rois_from_manager, store_annotations
from fiji_bridge.rois.labels import annotations_to_labels, labels_to_annotations
from fiji_bridge.service.commands import command
from fiji_bridge.service.options import choice, flag

_MAX_16BIT = 65535
_MAX_32BIT_EXACT = 2**24


def _image_or_current(image: Any, what: str) -> Any:
    if image is None:
        image = jpype.JClass("ij.WindowManager").getCurrentImage()
    if image is None:
        raise InputError(f"{what} needs an open label image: open one (File > Open...) and run it again")
    return image


def _label_planes(imp: Any, slices: str) -> list[tuple[int, np.ndarray]]:
    """(stack position or 0, 2-D labels) for the current slice or all slices, type-checked."""
    title = str(imp.getTitle())
    if imp.getBitDepth() == 24:
        raise InputError(f'"{title}" is an RGB image; Labels to ROIs needs an 8-, 16- or 32-bit label image')
    stacked = imp.getStackSize() > 1
    if slices == "all":
        data = imageplus_to_numpy(imp, squeeze=False).reshape(-1, imp.getHeight(), imp.getWidth())
        planes = [(i + 1, plane) for i, plane in enumerate(data)]
    else:
        planes = [(imp.getCurrentSlice() if stacked else 0, processor_to_numpy(imp.getProcessor()))]
    for position, plane in planes:
        if plane.dtype.kind == "f" and (not np.isfinite(plane).all() or (plane != np.round(plane)).any() or plane.min() < 0):
            where = f" (slice {position})" if position else ""
            raise InputError(f'"{title}"{where} is a 32-bit image with values that are not labels '
                             "(fractions, negatives or NaN); labels must be whole numbers >= 0")
    return planes


@command("labels_to_rois")
def labels_to_rois(bridge: Any, image: Any = None, **options: Any) -> int:
    """Label image -> ROI Manager: one ROI per label k > 0 named %04d of k; returns the count.

    Headless (no ROI Manager): the image overlay and ``<img>_ROIs.zip`` next to the image file
    (fiji_bridge.ij.rois.store_annotations).

    Options: ``slices`` "current" (default) or "all"; ``clear`` empties the ROI Manager first.
    On stacks each ROI's position is its slice.
    """
    slices = choice(options, "slices", ("current", "all"))
    imp = _image_or_current(image, "Labels to ROIs")
    anns = []
    for position, plane in _label_planes(imp, slices):
        anns.extend(labels_to_annotations(plane, position=position))
    for ann in anns:  # on a hyperstack, ImageJ needs (c, z, t) to show an ROI on its plane
        place(imp, ann, ann.position)
    if not anns:
        raise InputError(f'"{imp.getTitle()}" holds no labels (every pixel is 0); nothing to add')
    store_annotations(bridge, imp, anns, clear=flag(options.get("clear", False)))
    return len(anns)


@command("rois_to_labels")
def rois_to_labels(bridge: Any, image: Any = None, **options: Any) -> Any:
    """ROI Manager -> a new label image (shown); returns the ImagePlus.

    Options: ``output`` "16-bit" (default) or "32-bit"; ``values`` "index" (ROI i gets i + 1,
    later ROIs over earlier ones) or "name" (the integer in the ROI name; others get max + 1).
    The size (and stack size) is the current image's; without one, the ROIs' extent.
    ROIs with a stack position go to that slice, others to every slice. On a hyperstack with
    channels the labels have one slice per (z, t) plane, and an ROI on any channel of a plane
    (or with a hyperstack position) goes to that plane's slice.
    """
    output = choice(options, "output", ("16-bit", "32-bit"))
    values_from = choice(options, "values", ("index", "name"))
    anns = rois_from_manager(bridge)
    if not anns:
        raise InputError("the ROI Manager is empty (or not open); add ROIs first")
    values = _label_values(anns, values_from)
    areas = [i for i, ann in enumerate(anns) if ann.is_area]
    if not areas:
        raise InputError("the ROI Manager holds no area ROIs (only lines or points, which enclose no pixels)")
    if len(areas) < len(anns):  # as Export Annotations: left out and said, values keep ROI Manager indices
        lines = [i for i, ann in enumerate(anns) if not ann.is_area]
        shown = ", ".join(f"{i + 1} ({anns[i].name or 'unnamed'}, {anns[i].roi_type})" for i in lines[:5])
        jpype.JClass("ij.IJ").log(f"ROIs to Labels: left out {len(lines)} ROI(s) without area: {shown}"
                                  + (", ..." if len(lines) > 5 else ""))
    anns, values = [anns[i] for i in areas], values[areas]
    limit = _MAX_16BIT if output == "16-bit" else _MAX_32BIT_EXACT
    if values.max() > limit:
        raise InputError(f"label value {values.max()} does not fit a {output} label image (largest {limit}); "
                         + ("choose output=32-bit" if output == "16-bit" else "use fewer ROIs"))
    template = image if image is not None else jpype.JClass("ij.WindowManager").getCurrentImage()
    height, width, depth = _output_size(template, anns)
    slices = _label_slices(template, anns)
    stack = np.zeros((depth, height, width), dtype=np.uint16 if output == "16-bit" else np.float32)
    for z in range(depth):
        chosen = [i for i, k in enumerate(slices) if k & {0, z + 1} or depth == 1]
        if chosen:
            stack[z] = annotations_to_labels([anns[i] for i in chosen], (height, width), values=values[chosen])
    base = str(template.getShortTitle()) if template is not None else "ROIs"
    frames = int(template.getNFrames()) if template is not None else 1
    if depth == 1:
        imp = numpy_to_imageplus(stack[0], dims=("y", "x"), title=f"{base}-labels")
    elif frames > 1:  # the template's z and t (a plain stack of frames when it has no z)
        imp = numpy_to_imageplus(stack.reshape(frames, depth // frames, height, width), dims=("t", "z", "y", "x"),
                                 title=f"{base}-labels")
    else:
        imp = numpy_to_imageplus(stack, dims=("z", "y", "x"), title=f"{base}-labels")
    if template is not None:
        imp.setCalibration(template.getCalibration().copy())
    imp.setDisplayRange(0, float(max(values.max(), 1)))
    imp.show()
    return imp


def _label_values(anns: list[Any], values_from: str) -> np.ndarray:
    if values_from == "index":
        return np.arange(1, len(anns) + 1, dtype=np.int64)
    numbers = [int(m.group()) if (m := re.search(r"\d+", a.name)) else 0 for a in anns]
    top = max(numbers)
    out = []
    for n in numbers:
        if n <= 0:
            top += 1
            n = top
        out.append(n)
    return np.array(out, dtype=np.int64)


def _label_slices(template: Any, anns: list[Any]) -> list[set[int]]:
    """The label slices (1-based; {0} = every slice) of each ROI: its (z, t) planes' numbers on
    the template, else its stack position."""
    if template is None:
        return [{a.position} for a in anns]
    channels = int(template.getNChannels())
    return [{(p - 1) // channels + 1 if p > 0 else 0 for p in planes_of(template, a)} for a in anns]


def _output_size(template: Any, anns: list[Any]) -> tuple[int, int, int]:
    if template is not None:
        planes = int(template.getStackSize()) // int(template.getNChannels())
        return int(template.getHeight()), int(template.getWidth()), planes
    x1 = max(a.bounds()[2] for a in anns)
    y1 = max(a.bounds()[3] for a in anns)
    depth = max(1, max(a.position for a in anns))
    return int(np.ceil(y1)), int(np.ceil(x1)), depth

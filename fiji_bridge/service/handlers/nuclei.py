"""Service command "segment_nuclei" behind Plugins > Fiji Bridge > Segment Nuclei.

The current slice (or every slice) of the image is segmented with
``fiji_bridge.segment_nuclei``; the nuclei go to the ROI Manager (named 0001... by label,
position = slice on stacks), the image's overlay, or a new label image. All planes are
checked and segmented before anything in ImageJ changes, so bad input leaves it as it was.
Channels of a multi-channel image are its colours (nucleAIzer: the first three);
5-D hyperstacks (channels, slices and frames) are refused.
"""
from __future__ import annotations

import warnings
from typing import Any

import jpype
import numpy as np

from fiji_bridge.errors import InputError
from fiji_bridge.ij.images import imageplus_to_numpy, numpy_to_imageplus, processor_to_numpy
from fiji_bridge.ij.positions import place, plane_position
from fiji_bridge.ij.rois import annotations_to_overlay, store_annotations
from fiji_bridge.nucleaizer.pipeline import segment_nuclei
from fiji_bridge.nucleaizer.preprocess import check_image, is_constant
from fiji_bridge.rois.labels import labels_to_annotations
from fiji_bridge.service.commands import command
from fiji_bridge.service.options import choice, flag
from fiji_bridge.service.progress import Progress

TITLE = "Segment Nuclei"
OUTPUTS = ("roi manager", "overlay", "label image")
SLICES = ("current", "all")






def _diameter(options: dict[str, Any]) -> float | None:
    raw = options.get("diameter", 0)
    try:
        value = float(str(raw))
    except ValueError:
        raise InputError(f"{TITLE}: diameter must be a number of pixels (0 = automatic), got {raw!r}") from None
    if not np.isfinite(value) or value < 0:
        raise InputError(f"{TITLE}: diameter must be 0 (automatic) or a positive number of pixels, got {raw!r}")
    return value or None


def _planes(imp: Any, slices: str) -> list[tuple[int, np.ndarray]]:
    """(stack position or 0, plane (Y, X[, C])) for the current slice or all slices."""
    title = str(imp.getTitle())
    nc, nz, nt = int(imp.getNChannels()), int(imp.getNSlices()), int(imp.getNFrames())
    if nc > 1 and nz > 1 and nt > 1:
        raise InputError(f'{TITLE}: "{title}" is a 5-D hyperstack ({nc} channels, {nz} slices, {nt} frames); '
                         "reduce it first (Image > Hyperstacks > Reduce Dimensionality...)")
    if nc > 1:  # channels are the colours of each (z, t) plane
        data = imageplus_to_numpy(imp, squeeze=False)  # (t, z, c, y, x)
        data = np.moveaxis(data.reshape((nt * nz, nc) + data.shape[3:]), 1, -1)
        if slices == "current":
            index = (int(imp.getFrame()) - 1) * nz + int(imp.getSlice()) - 1
            return [(plane_position(imp), data[index])]
        return [((i * nc) + 1, plane) for i, plane in enumerate(data)]
    if slices == "current" or imp.getStackSize() == 1:
        return [(plane_position(imp), processor_to_numpy(imp.getProcessor()))]
    stack = imageplus_to_numpy(imp, squeeze=False)
    stack = stack.reshape((-1,) + stack.shape[3:])
    return [(i + 1, plane) for i, plane in enumerate(stack)]


def _where(title: str, position: int) -> str:
    return f'"{title}"' + (f" slice {position}" if position else "")


def _segment(title: str, planes: list[tuple[int, np.ndarray]], diameter: float | None, tta: bool) -> list[np.ndarray]:
    for position, plane in planes:
        check_image(plane, name=f"{TITLE}: {_where(title, position)}")
    if all(is_constant(plane) for _, plane in planes if plane.size):
        value = planes[0][1].reshape(-1)[0] if planes[0][1].size else 0
        raise InputError(f'{TITLE}: "{title}" is blank (every pixel is {value}); there are no nuclei to find')
    results = []
    with Progress(len(planes), f"{TITLE}: {title}") as progress:
        for position, plane in planes:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a blank slice of a stack just has no nuclei
                    results.append(segment_nuclei(plane, diameter=diameter, tta=tta))
            except InputError as exc:
                raise InputError(f"{TITLE}: {_where(title, position)}: {str(exc).removeprefix('image: ')}") from None
            progress.step()
    return results


@command("segment_nuclei")
def segment(bridge: Any, image: Any = None, **options: Any) -> int:
    """Segment nuclei in the current image; returns the number of nuclei.

    Options: ``diameter`` (pixels, 0 = estimate), ``tta`` (flag), ``output`` "ROI Manager"
    (default), "overlay" or "label image", ``slices`` "current" (default) or "all",
    ``clear`` (empty the ROI Manager / overlay first).
    """
    diameter = _diameter(options)
    tta = flag(options.get("tta", False))
    output = choice(options, "output", OUTPUTS, command=TITLE)
    slices = choice(options, "slices", SLICES, command=TITLE)
    clear = flag(options.get("clear", False))
    imp = image if image is not None else jpype.JClass("ij.WindowManager").getCurrentImage()
    if imp is None:
        raise InputError(f"{TITLE} needs an open image: open one (File > Open...) and run it again")
    title = str(imp.getTitle())
    planes = _planes(imp, slices)
    labels = _segment(title, planes, diameter, tta)
    count = sum(int(lab.max()) for lab in labels)
    if output == "label image":
        stacked = len(labels) > 1
        dtype = np.uint16 if all(lab.dtype == np.uint16 for lab in labels) else np.float32
        data = np.stack(labels).astype(dtype) if stacked else labels[0].astype(dtype)
        result = numpy_to_imageplus(data, dims=("z", "y", "x") if stacked else ("y", "x"),
                                    title=f"{imp.getShortTitle()}-nuclei")
        result.setCalibration(imp.getCalibration().copy())
        result.setDisplayRange(0, float(max(count, 1)))
        result.show()
        return count
    anns = [ann for (position, _), lab in zip(planes, labels) for ann in labels_to_annotations(lab, position=position)]
    for ann in anns:
        place(imp, ann, ann.position)  # on a hyperstack with channels: every channel of the plane
    if output == "overlay":
        annotations_to_overlay(imp, anns, clear=clear)
    else:
        store_annotations(bridge, imp, anns, clear=clear)
    return count

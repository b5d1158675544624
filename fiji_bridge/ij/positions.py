"""Stack positions of annotations on ImageJ stacks and hyperstacks (rules in ``fiji_bridge.rois.planes``).

An annotation's ``position`` is ImageJ's 1-based stack index (0 = none, as on a single image).
On a hyperstack with channels, the channels are the colours of one (z, t) plane, so an
annotation belongs to the plane: fiji_bridge gives it the index of the plane's first channel
(``getStackIndex(1, z, t)``) and the hyperstack position (0, z, t), which ImageJ shows on every
channel, and treats an ROI placed on any channel of the plane as belonging to it.
"""
from __future__ import annotations

from typing import Any

from fiji_bridge.annotation import Annotation
from fiji_bridge.rois import planes
from fiji_bridge.rois.planes import StackDims


def stack_dims(imp: Any) -> StackDims:
    """Channels, slices and frames of an ImagePlus."""
    return StackDims(int(imp.getNChannels()), int(imp.getNSlices()), int(imp.getNFrames()))


def plane_position(imp: Any) -> int:
    """The position annotations of the displayed plane get (0 when the image has one plane)."""
    channels = int(imp.getNChannels())
    if int(imp.getStackSize()) == channels:
        return 0
    if channels > 1:
        return int(imp.getStackIndex(1, imp.getSlice(), imp.getFrame()))
    return int(imp.getCurrentSlice())


def plane_positions(imp: Any) -> list[int]:
    """Every stack index of the displayed plane, one per channel ([] on a single image)."""
    if int(imp.getStackSize()) == 1:
        return []
    first = int(imp.getStackIndex(1, imp.getSlice(), imp.getFrame()))
    return [first + c for c in range(int(imp.getNChannels()))]


def planes_of(imp: Any, ann: Annotation) -> list[int]:
    """The planes of ``ann`` on ``imp`` (see ``fiji_bridge.rois.planes.planes_of``)."""
    return planes.planes_of(ann, stack_dims(imp))


def place(imp: Any, ann: Annotation, position: int | None = None) -> None:
    """Put ``ann`` on the plane of stack index ``position`` of ``imp`` (default: the displayed
    plane), with the hyperstack position ImageJ shows on all of the plane's channels."""
    planes.place(ann, plane_position(imp) if position is None else position, stack_dims(imp))

"""Stack positions of annotations on ImageJ stacks and hyperstacks.

An annotation's ``position`` is ImageJ's 1-based stack index (0 = none, as on a single image).
On a hyperstack with channels, the channels are the colours of one (z, t) plane, so an
annotation belongs to the plane: fiji_bridge gives it the index of the plane's first channel
(``getStackIndex(1, z, t)``), whichever channel is displayed, and treats an ROI placed on any
channel of the plane as belonging to it.
"""
from __future__ import annotations

from typing import Any

from fiji_bridge.rois.roiset import plane_index


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


def plane_of(imp: Any, position: int) -> int:
    """The plane position (see ``plane_position``) of stack index ``position`` (0 stays 0; an
    index beyond the stack is kept as it is)."""
    return position if position > int(imp.getStackSize()) else plane_index(position, int(imp.getNChannels()))

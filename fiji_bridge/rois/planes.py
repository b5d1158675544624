"""Which (z, t) planes of an ImageJ stack or hyperstack an annotation belongs to (pure Python).

ImageJ numbers the 2-D slices of a stack 1..n (the stack index), a hyperstack's channel first,
then z, then t. An ROI says where it lies in one of three ways:
- a hyperstack position (``Annotation.hyperstack`` = (channel, slice, frame), 0 = any), which
  ImageJ's "Add to Manager" gives ROIs drawn on a hyperstack, and which ImageJ reads before
  the stack index when a .roi file holds both;
- a stack index (``Annotation.position``);
- neither, with the slice in its name (``0002-yyyy-xxxx``), as the macro's roiManager("add")
  adds ROIs on a stack.

fiji_bridge treats the channels of a (z, t) plane as one plane: an annotation's plane is the
stack index of the plane's first channel, and ROIs it places on a hyperstack get the hyperstack
position (0, z, t), which ImageJ shows on every channel of the plane.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from fiji_bridge.annotation import Annotation


@dataclass(frozen=True)
class StackDims:
    """Channels, slices (z) and frames (t) of an image; a single image is (1, 1, 1)."""

    channels: int = 1
    slices: int = 1
    frames: int = 1

    @property
    def size(self) -> int:
        """Number of 2-D slices (stack indices 1..size)."""
        return self.channels * self.slices * self.frames

    @property
    def planes(self) -> int:
        """Number of (z, t) planes (a plane holds all channels)."""
        return self.slices * self.frames


def slice_from_name(name: str) -> int:
    """The stack slice an ROI Manager name such as ``0002-0088-0107`` stands for, else 0.

    ImageJ 1.x's ROI Manager adds an ROI drawn on a stack with position 0 and the slice in its
    name, and treats it as belonging to that slice (``RoiManager.getSliceNumber``, mirrored here)."""
    for width in (4, 5, 6):
        if len(name) >= 3 * width + 2 and name[width] == "-" and name[2 * width + 1] == "-":
            try:
                value = float(name[:width]) if "_" not in name[:width] else math.nan
            except ValueError:
                return 0
            return 0 if math.isnan(value) else int(min(max(value, 0), 2**31 - 1))  # Java's (int) cast
    return 0


def plane_index(position: int, channels: int) -> int:
    """The stack index of the first channel of the (z, t) plane that holds stack index
    ``position`` (0 stays 0): ImageJ orders a hyperstack's slices channel first."""
    return (position - 1) // channels * channels + 1 if position > 0 else 0


def planes_of(ann: Annotation, dims: StackDims) -> list[int]:
    """The planes ``ann`` belongs to on an image of ``dims``, each as the stack index of the
    plane's first channel: ``[0]`` for every plane (no position), several for a hyperstack
    position with slice or frame 0 (any, as ImageJ shows it), ``[dims.size + 1]`` for a position
    the image does not have (a channel, slice or frame beyond its own). As in ImageJ, a
    hyperstack position wins over a stack index, which wins over the slice in the name."""
    if ann.hyperstack is not None:
        c, z, t = ann.hyperstack
        if c > dims.channels or z > dims.slices or t > dims.frames:
            return [dims.size + 1]
        zs = [z] if z else range(1, dims.slices + 1)
        ts = [t] if t else range(1, dims.frames + 1)
        if len(zs) * len(ts) == dims.slices * dims.frames:
            return [0]
        return [((tt - 1) * dims.slices + zz - 1) * dims.channels + 1 for tt in ts for zz in zs]
    position = ann.position or slice_from_name(ann.name)
    return [position if position > dims.size else plane_index(position, dims.channels)]


def one_per_plane(anns: list[Annotation], dims: StackDims) -> list[Annotation]:
    """The annotations with ``position`` set to their plane (0: every plane); one on some of
    the planes (a hyperstack position with slice or frame 0) becomes a copy per plane, sharing
    its outline arrays."""
    out = []
    for ann in anns:
        found = planes_of(ann, dims)
        ann.position = found[0]
        out.append(ann)
        for position in found[1:]:
            copy = replace(ann, position=position)
            copy.polygon, copy.subpaths = ann.polygon, ann.subpaths  # the same arrays: one ROI
            out.append(copy)
    return out


def is_hyperstack(dims: StackDims) -> bool:
    """Whether ImageJ shows an image of ``dims`` as a hyperstack, whose ROIs need (c, z, t)
    positions: channels and several planes, or both slices and frames."""
    planes = dims.slices * dims.frames
    return (dims.channels > 1 and planes > 1) or (dims.slices > 1 and dims.frames > 1)


def hyperstack_position(position: int, dims: StackDims) -> tuple[int, int, int] | None:
    """(0, z, t) for stack index ``position`` on a hyperstack (see ``is_hyperstack``): the ROI
    shows on every channel of its plane. None elsewhere (a stack index says it all)."""
    if not is_hyperstack(dims) or not 0 < position <= dims.size:
        return None
    plane = (position - 1) // dims.channels
    return (0, plane % dims.slices + 1, plane // dims.slices + 1)


def plane_start(number: int, dims: StackDims) -> int:
    """The stack index of the first channel of (z, t) plane ``number`` (1-based, z fastest)."""
    return (number - 1) * dims.channels + 1


def plane_number(position: int, dims: StackDims) -> int:
    """The number (1-based, z fastest: ``(t - 1) * slices + z``) of the (z, t) plane holding
    stack index ``position``; the inverse of ``plane_start``."""
    return (position - 1) // dims.channels + 1


def place(ann: Annotation, position: int, dims: StackDims) -> None:
    """Put ``ann`` on the plane of stack index ``position`` of an image of ``dims``; on an image
    of one plane (its channels, if any), and for ``position`` 0, on every plane."""
    if dims.size == dims.channels:
        ann.position = 0
    elif 0 < position <= dims.size:
        ann.position = plane_index(position, dims.channels)
    else:
        ann.position = position
    ann.hyperstack = hyperstack_position(ann.position, dims)

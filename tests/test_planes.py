"""Which planes of a stack or hyperstack an annotation belongs to (pure rules of fiji_bridge.rois.planes)."""
from __future__ import annotations

import numpy as np
import pytest

from fiji_bridge.annotation import Annotation
from fiji_bridge.rois.planes import (StackDims, hyperstack_position, one_per_plane, place, plane_number, plane_start,
                                     planes_of)

SQUARE = np.array([[0, 0], [4, 0], [4, 4], [0, 4]], float)
HYPERSTACK = StackDims(channels=2, slices=4, frames=3)  # stack index = ((t-1)*4 + z-1)*2 + c


def at(**kwargs) -> Annotation:
    return Annotation(SQUARE, **kwargs)


@pytest.mark.parametrize(("ann", "planes"), [
    (at(hyperstack=(0, 2, 3)), [19]),  # plane (z 2, t 3): its first channel
    (at(hyperstack=(2, 2, 3)), [19]),  # any channel of the plane: the plane
    (at(hyperstack=(0, 0, 3)), [17, 19, 21, 23]),  # every slice of frame 3, as ImageJ shows it
    (at(hyperstack=(0, 2, 0)), [3, 11, 19]),  # slice 2 of every frame
    (at(hyperstack=(1, 0, 0)), [0]),  # every plane
    (at(hyperstack=(0, 5, 1)), [25]),  # a slice the image lacks: beyond the stack
    (at(hyperstack=(0, 0, 4)), [25]),  # a frame it lacks, even with any slice
    (at(position=20), [19]),  # stack index of channel 2 of that plane
    (at(position=30), [30]),  # beyond the stack: kept
    (at(name="0020-0010-0010"), [19]),  # the ROI Manager's name for stack index 20
    (at(name="0001"), [0]),
    (at(position=1, hyperstack=(0, 2, 3)), [19]),  # as ImageJ's RoiDecoder: the hyperstack position wins
])
def test_planes_of_on_a_hyperstack(ann, planes):
    assert planes_of(ann, HYPERSTACK) == planes


def test_planes_where_an_axis_has_one_entry():
    assert planes_of(at(hyperstack=(0, 0, 2)), StackDims(1, 1, 5)) == [2]  # z 0 on a time series is z 1
    assert planes_of(at(hyperstack=(0, 3, 0)), StackDims(3, 4, 1)) == [7]
    assert planes_of(at(position=2), StackDims(2, 1, 1)) == [1]  # the channels of one plane


def test_one_per_plane_copies_an_roi_on_some_planes():
    anns = one_per_plane([at(name="a", hyperstack=(0, 0, 3)), at(name="b", position=4)], HYPERSTACK)
    assert [(a.name, a.position) for a in anns] == [("a", 17), ("a", 19), ("a", 21), ("a", 23), ("b", 3)]
    assert len({id(a.polygon) for a in anns}) == 2  # the copies share their outline: one ROI


def test_place_gives_every_channel_of_the_plane():
    ann = at(position=5)
    place(ann, 20, HYPERSTACK)
    assert (ann.position, ann.hyperstack) == (19, (0, 2, 3))
    assert planes_of(ann, HYPERSTACK) == [19]
    place(ann, 3, StackDims(1, 6, 1))  # a plain stack: the stack index says it all
    assert (ann.position, ann.hyperstack) == (3, None)
    place(ann, 4, StackDims(1, 3, 2))  # one channel, slices and frames: ImageJ needs (z, t)
    assert (ann.position, ann.hyperstack) == (4, (0, 1, 2))
    place(ann, 2, StackDims(2, 1, 1))  # the channels of a single plane: every channel, no position
    assert (ann.position, ann.hyperstack) == (0, None)
    place(ann, 0, HYPERSTACK)  # no plane: every plane
    assert (ann.position, ann.hyperstack) == (0, None)


@pytest.mark.parametrize(("position", "expected"), [(1, (0, 1, 1)), (24, (0, 4, 3)), (0, None), (25, None)])
def test_hyperstack_position(position, expected):
    assert hyperstack_position(position, HYPERSTACK) == expected
    assert hyperstack_position(position, StackDims(2, 1, 1)) is None  # one plane: no position needed
    assert hyperstack_position(position, StackDims(1, 24, 1)) is None  # a plain stack


def test_bad_hyperstack_positions_are_refused():
    with pytest.raises(ValueError, match="channel, slice, frame"):
        at(hyperstack=(0, -1, 2))
    with pytest.raises(ValueError, match="channel, slice, frame"):
        at(hyperstack=(1, 2))


def test_plane_numbers_follow_imagej_slice_and_frame_order():
    """Plane n = (t - 1) * slices + z, whatever the channels; plane_number inverts plane_start."""
    assert [plane_number(i, HYPERSTACK) for i in (1, 2, 3, 8, 9, 24)] == [1, 1, 2, 4, 5, 12]
    assert all(plane_number(plane_start(n, HYPERSTACK) + c, HYPERSTACK) == n for n in range(1, 13) for c in (0, 1))
    assert HYPERSTACK.planes == 12 and StackDims(3, 1, 1).planes == 1

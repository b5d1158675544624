"""Label images <-> annotations <-> masks, pixel-exact under ImageJ's convention."""
from __future__ import annotations

import math

from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.rois.labels import annotation_mask, annotations_to_labels, labels_to_annotations, mask_outlines



def round_trip(labels: np.ndarray) -> np.ndarray:
    anns = labels_to_annotations(labels)
    return annotations_to_labels(anns, labels.shape, values=[int(a.name) for a in anns])


def even_odd_reference(paths: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Slow, obvious point-in-polygon test at every pixel centre (even-odd over all paths)."""
    h, w = shape
    cy, cx = np.mgrid[0:h, 0:w] + 0.5
    inside = np.zeros(shape, dtype=bool)
    for p in paths:
        for (ax, ay), (bx, by) in zip(p, np.roll(p, -1, axis=0)):
            if ay == by:
                continue
            if ay > by:
                ax, ay, bx, by = bx, by, ax, ay
            crosses = (ay <= cy) & (cy < by)
            xc = ax + (cy - ay) * (bx - ax) / (by - ay)
            inside ^= crosses & (xc <= cx)
    return inside


# ------------------------------------------------------------------ strategies

@st.composite
def label_images(draw) -> np.ndarray:
    """Label images built from rectangles, rings (with islands), single pixels and noise,
    so objects touch, touch only diagonally, have holes, lie on the border, and a label may
    have several pieces."""
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    labels = np.zeros((h, w), dtype=np.int32)
    n = draw(st.integers(0, 8))
    for k in range(1, n + 1):
        kind = draw(st.sampled_from(["rect", "ring", "pixel", "noise"]))
        y0, x0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        y1, x1 = draw(st.integers(y0 + 1, h)), draw(st.integers(x0 + 1, w))
        value = draw(st.integers(1, 6))  # repeated values: one label, several pieces
        if kind == "rect":
            labels[y0:y1, x0:x1] = value
        elif kind == "ring":
            labels[y0:y1, x0:x1] = value
            labels[y0 + 1:y1 - 1, x0 + 1:x1 - 1] = 0
            if y1 - y0 > 4 and x1 - x0 > 4:
                labels[y0 + 2:y1 - 2, x0 + 2:x1 - 2] = value  # an island inside the hole
                labels[y0 + 3:y1 - 3, x0 + 3:x1 - 3] = 0
        elif kind == "pixel":
            labels[y0, x0] = value
        else:
            bits = draw(arrays(np.bool_, (y1 - y0, x1 - x0)))
            labels[y0:y1, x0:x1][bits] = value
    return labels


small_noise = arrays(np.uint8, st.tuples(st.integers(1, 16), st.integers(1, 16)), elements=st.integers(0, 3))


# ------------------------------------------------------------------ properties

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_images())
def test_round_trip_is_pixel_identical(labels: np.ndarray) -> None:
    assert np.array_equal(round_trip(labels), labels)


@settings(max_examples=200, deadline=None)
@given(small_noise)
def test_noise_round_trip_and_outline_shape(labels: np.ndarray) -> None:
    """Checkerboard-like noise: diagonal contacts everywhere; outlines are closed, axis-aligned,
    integer, without collinear vertices; one outline <-> traced."""
    anns = labels_to_annotations(labels)
    assert [int(a.name) for a in anns] == [k for k in np.unique(labels).tolist() if k > 0]
    for ann in anns:
        assert ann.roi_type == ("traced" if not ann.subpaths else "composite")
        for path in ann.paths:
            step = np.roll(path, -1, axis=0) - path
            assert np.all(path == np.round(path))
            assert np.all((step[:, 0] == 0) ^ (step[:, 1] == 0))  # axis-aligned, no repeats
            turn = step[:, 0] * np.roll(step, -1, axis=0)[:, 1] - step[:, 1] * np.roll(step, -1, axis=0)[:, 0]
            assert np.all(turn != 0)  # collinear vertices merged
        assert np.array_equal(annotation_mask(ann, labels.shape), labels == int(ann.name))
    assert np.array_equal(round_trip(labels), labels)


@settings(max_examples=200, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 20), st.integers(1, 20))))
def test_mask_outlines_fill_back_to_mask(mask: np.ndarray) -> None:
    outlines = mask_outlines(mask)
    assert bool(outlines) == bool(mask.any())
    if outlines:
        assert np.array_equal(even_odd_reference(outlines, mask.shape), mask)
        assert np.array_equal(annotation_mask(Annotation(outlines[0], subpaths=tuple(outlines[1:]),
                                                         roi_type="composite"), mask.shape), mask)


def polygon_filler_reference(paths: list[np.ndarray], shape: tuple[int, int], composite: bool) -> np.ndarray:
    """Slow, line-by-line port of ImageJ 1.53t's PolygonFiller as PolygonRoi.getMask
    (``composite`` False) and ShapeRoi.getMask (True) use it, placed in an image of ``shape``:
    float32 vertices relative to the ROI's bounds, an active edge list, x advanced by the slope
    row by row, spans from (int)(x + 0.5)."""
    p32 = [np.asarray(p, np.float32) for p in paths]
    low = np.min([p.min(axis=0) for p in p32], axis=0)
    corner = np.floor(low.astype(np.float64))
    if composite:
        local = [(p.astype(np.float64) - corner).astype(np.float32).astype(np.float64) for p in p32]
    else:
        local = [(p - low).astype(np.float64) + (low - corner) for p in p32]
    edges = []  # [x at the current row, first row, end row, slope]
    for p in local:
        for (x1, y1), (x2, y2) in zip(p.tolist(), np.roll(p, -1, axis=0).tolist()):
            r1, r2 = math.floor(y1 + 0.5), math.floor(y2 + 0.5)  # Math.round (exact for these)
            if r1 == r2:
                continue
            if r1 > r2:
                r1, r2, x1, y1, x2, y2 = r2, r1, x2, y2, x1, y1
            slope = (x2 - x1) / (y2 - y1)
            edges.append([x1 + (r1 - y1 + 0.5) * slope + 1e-8, r1, r2, slope])
    h, w = shape
    out = np.zeros(shape, dtype=bool)
    for r in range(min((e[1] for e in edges), default=0), max((e[2] for e in edges), default=0)):
        active = [e for e in edges if e[1] <= r < e[2]]
        xs = sorted(e[0] for e in active)
        y = r + int(corner[1])
        for a, b in zip(xs[0::2], xs[1::2]):
            c1, c2 = (min(max(int(v + 0.5) + int(corner[0]), 0), w) for v in (a, b))
            if 0 <= y < h:
                out[y, c1:c2] = True
        for e in active:
            e[0] += e[3]
    return out


coordinate = st.one_of(
    st.floats(-3, 23, allow_nan=False).map(lambda v: round(v, 3)),
    st.integers(-6, 46).map(lambda v: v / 2),  # pixel centres, edges and vertices on row centres
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=9), min_size=1, max_size=3),
       st.booleans())
def test_float_polygons_rasterise_as_imagej_polygonfiller(paths: list, composite: bool) -> None:
    paths = [np.array(p, dtype=np.float64) for p in paths]
    if not composite:
        paths = paths[:1]
    ann = Annotation(paths[0], subpaths=tuple(paths[1:]), roi_type="composite" if composite else "polygon")
    assert np.array_equal(annotation_mask(ann, (20, 18)), polygon_filler_reference(paths, (20, 18), composite))


def test_ties_follow_imagej() -> None:
    """Centres on a left edge are out, on a right edge in; a vertex on a row centre belongs to
    the edge below it (ImageJ 1.53t, checked against ij.jar in test_rois_imagej.py)."""
    triangle = annotation_mask(Annotation([[0, 0], [3, 1], [2, 3]]), (4, 4))
    assert triangle.astype(int).tolist() == [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    quad = annotation_mask(Annotation([[1, 1], [8, 2], [9, 9], [2, 7]]), (10, 10))
    assert quad[1, 4] and quad[5, 8]
    diamond = annotation_mask(Annotation([[2.5, 0.5], [4.5, 2.5], [2.5, 4.5], [0.5, 2.5]]), (5, 5))
    assert diamond.astype(int).tolist() == [[0, 0, 0, 0, 0], [0, 0, 1, 1, 0], [0, 1, 1, 1, 1],
                                            [0, 0, 1, 1, 0], [0, 0, 0, 0, 0]]


def test_float_rectangles_cover_imagej_integer_bounds() -> None:
    """ImageJ's Roi(x, y, w, h) has no mask: pixels (int) x .. (int) x + ceil(w) - 1."""
    box = Annotation([[1.6, 2.4], [5.4, 2.4], [5.4, 3.6], [1.6, 3.6]], roi_type="rectangle")
    expected = np.zeros((6, 7), bool)
    expected[2:4, 1:5] = True
    assert np.array_equal(annotation_mask(box, (6, 7)), expected)
    flat = Annotation([[1, 1], [3, 1], [3, 1], [1, 1]], roi_type="rectangle")
    assert annotation_mask(flat, (3, 4)).astype(int).tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]]


# ------------------------------------------------------------------ cases

def test_every_dsb_val_mask_round_trips(dsb_val: Path) -> None:
    masks = sorted((dsb_val / "masks").glob("*.tif"))
    assert len(masks) == 56
    for path in masks:
        labels = tifffile.imread(path)
        assert np.array_equal(round_trip(labels), labels), path


def test_one_pixel_object_outline() -> None:
    labels = np.zeros((4, 5), np.uint8)
    labels[2, 3] = 7
    (ann,) = labels_to_annotations(labels, position=4)
    assert (ann.name, ann.roi_type, ann.position) == ("0007", "traced", 4)
    assert ann.polygon.tolist() == [[3, 2], [4, 2], [4, 3], [3, 3]]


def test_diagonal_neighbours_get_separate_outlines() -> None:
    labels = np.array([[1, 0], [0, 1]])
    (ann,) = labels_to_annotations(labels)
    assert ann.roi_type == "composite"
    assert [p.tolist() for p in ann.paths] == [[[0, 0], [1, 0], [1, 1], [0, 1]], [[1, 1], [2, 1], [2, 2], [1, 2]]]


def test_hole_with_island_and_border_object() -> None:
    labels = np.zeros((7, 7), np.uint16)
    labels[:, :] = 3        # touches all four borders
    labels[1:6, 1:6] = 0    # hole
    labels[3, 3] = 3        # island in the hole
    anns = labels_to_annotations(labels)
    assert len(anns) == 1 and anns[0].roi_type == "composite"
    assert anns[0].polygon.tolist() == [[0, 0], [7, 0], [7, 7], [0, 7]]  # outer boundary first
    assert len(anns[0].subpaths) == 2
    assert np.array_equal(annotation_mask(anns[0], labels.shape), labels == 3)


def test_labels_with_gaps_large_values_and_dtypes() -> None:
    labels = np.zeros((3, 6), np.int64)
    labels[0, 0], labels[1, 2], labels[2, 5] = 70000, 5, 12
    names = ["0005", "0012", "70000"]
    for dtype in (np.int32, np.uint32, np.uint64, np.int64, np.float32, np.float64):
        assert [a.name for a in labels_to_annotations(labels.astype(dtype))] == names
    assert [a.name for a in labels_to_annotations(np.array([[True, False]]))] == ["0001"]
    assert labels_to_annotations(np.zeros((3, 3), np.uint8)) == []
    assert labels_to_annotations(np.zeros((0, 0), np.uint8)) == []


def test_70000_labels() -> None:
    side = 530  # one-pixel objects on every other pixel of every other row: 70,225 labels
    labels = np.zeros((side, side), np.int32)
    labels[::2, ::2] = np.arange(1, 265 * 265 + 1).reshape(265, 265)
    seen = []
    anns = labels_to_annotations(labels, progress=lambda done, total: seen.append((done, total)))
    assert len(anns) == 70225 and anns[-1].name == "70225"
    assert seen[-1] == (70225, 70225)
    back = annotations_to_labels(anns, labels.shape, values=[int(a.name) for a in anns])
    assert back.dtype == np.uint32
    assert np.array_equal(back, labels)


def test_annotations_to_labels_order_values_and_dtype() -> None:
    square = Annotation([[0, 0], [4, 0], [4, 4], [0, 4]], roi_type="rectangle")
    shifted = Annotation([[2, 2], [6, 2], [6, 6], [2, 6]], roi_type="polygon")
    out = annotations_to_labels([square, shifted], (6, 6))
    assert out.dtype == np.uint16
    assert out[1, 1] == 1 and out[3, 3] == 2 and out[5, 5] == 2 and out[0, 5] == 0
    out = annotations_to_labels([shifted, square], (6, 6), values=[70000, 9])
    assert out.dtype == np.uint32 and out[3, 3] == 9 and out[5, 5] == 70000
    assert annotations_to_labels([], (2, 3)).shape == (2, 3)


def test_rois_partly_or_fully_outside_the_image_are_clipped() -> None:
    big = Annotation([[-5, -5], [3, -5], [3, 2], [-5, 2]])
    outside = Annotation([[10, 10], [12, 10], [12, 12]])
    out = annotations_to_labels([big, outside], (4, 5))
    expected = np.zeros((4, 5), np.uint16)
    expected[:2, :3] = 1
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("labels, words", [
    (np.zeros((2, 3, 4), np.uint16), "2-D"),
    (np.array([[0.5, 1.0]]), "whole numbers"),
    (np.array([[np.nan, 1.0]]), "whole numbers"),
    (np.array([[-1, 2]]), "negative"),
    (np.array([["a", "b"]]), "integer type"),
])
def test_bad_label_images_are_refused(labels: np.ndarray, words: str) -> None:
    with pytest.raises(InputError, match=words):
        labels_to_annotations(labels)


def test_bad_annotations_are_refused() -> None:
    line = Annotation([[0, 0], [3, 3]], name="cut", roi_type="line")
    with pytest.raises(InputError, match="cut is a line"):
        annotation_mask(line, (4, 4))
    with pytest.raises(InputError, match="point"):
        annotations_to_labels([Annotation([[1, 1]], roi_type="point")], (4, 4))
    with pytest.raises(InputError, match="fewer than 3"):
        annotation_mask(Annotation([[0, 0], [2, 2]], roi_type="polygon"), (4, 4))
    with pytest.raises(InputError, match="not finite"):
        annotation_mask(Annotation([[0, 0], [2, np.nan], [2, 0]]), (4, 4))
    square = Annotation([[0, 0], [1, 0], [1, 1], [0, 1]])
    with pytest.raises(InputError, match="2 label values for 1 ROIs"):
        annotations_to_labels([square], (4, 4), values=[1, 2])
    for bad in ([1.5], [np.nan], ["2"]):
        with pytest.raises(InputError, match="whole numbers"):
            annotations_to_labels([square], (4, 4), values=bad)
    assert annotations_to_labels([square], (4, 4), values=[7.0]).max() == 7
    with pytest.raises(InputError, match="list of Annotation"):
        annotations_to_labels(np.array([[0, 0], [1, 0], [1, 1]], float), (4, 4))
    with pytest.raises(InputError, match="height, width"):
        annotations_to_labels([square], (4, 4, 3))
    with pytest.raises(InputError, match="2-D"):
        mask_outlines(np.zeros(5, bool))

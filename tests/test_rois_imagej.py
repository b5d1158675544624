"""fiji_bridge.rois against ImageJ 1.53t itself: masks of the same ROIs, files each side writes.

The helpers here are shared with benchmarks/crosscheck_rois_imagej.py, which runs the same checks
on more data. They need a running JVM with ImageJ (the `bridge` fixture here).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import jpype
import numpy as np
import pytest
import tifffile

from fiji_bridge.annotation import Annotation
from fiji_bridge.rois import annotation_mask, labels_to_annotations, read_roiset, write_roiset

pytestmark = pytest.mark.imagej

IMAGEJ_TYPES = {"polygon": "Polygon", "freehand": "Freehand", "traced": "Traced", "composite": "Composite",
                "rectangle": "Rectangle"}


# ------------------------------------------------------------------ helpers (shared)

def imagej_mask(roi, shape: tuple[int, int]) -> np.ndarray:
    """Full-image boolean mask of an ImageJ Roi: getMask() placed at getBounds(), clipped."""
    out = np.zeros(shape, dtype=bool)
    r = roi.getBounds()
    mask = roi.getMask()
    if mask is None:  # a plain rectangle: all of its bounds
        sub = np.ones((r.height, r.width), dtype=bool)
    else:
        sub = np.asarray(mask.getPixels(), dtype=np.int8).reshape(mask.getHeight(), mask.getWidth()) != 0
    x0, y0 = max(r.x, 0), max(r.y, 0)
    x1, y1 = min(r.x + r.width, shape[1]), min(r.y + r.height, shape[0])
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = sub[y0 - r.y:y1 - r.y, x0 - r.x:x1 - r.x]
    return out


def imagej_roi(ann: Annotation):
    """The ROI ImageJ's own constructors make of ``ann``: PolygonRoi from float32 (or, for integer
    vertices, int) arrays, ShapeRoi from an even-odd Path2D.Float, Roi(x, y, width, height)."""
    Roi = jpype.JClass("ij.gui.Roi")
    if ann.roi_type == "rectangle":
        (x0, y0), (x1, y1) = ann.polygon.min(axis=0), ann.polygon.max(axis=0)
        return Roi(float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    if ann.roi_type == "composite":
        path = jpype.JClass("java.awt.geom.Path2D$Float")(jpype.JClass("java.awt.geom.Path2D").WIND_EVEN_ODD)
        for outline in ann.paths:
            path.moveTo(*outline[0].tolist())
            for x, y in outline[1:].tolist():
                path.lineTo(x, y)
            path.closePath()
        return jpype.JClass("ij.gui.ShapeRoi")(path)
    code = {"polygon": Roi.POLYGON, "freehand": Roi.FREEROI, "traced": Roi.TRACED_ROI}[ann.roi_type]
    pts = ann.polygon
    if np.array_equal(pts, np.round(pts)):
        xs, ys = (jpype.JArray(jpype.JInt)(v.astype(np.int32)) for v in pts.T)
    else:
        xs, ys = (jpype.JArray(jpype.JFloat)(v.astype(np.float32)) for v in pts.T)
    return jpype.JClass("ij.gui.PolygonRoi")(xs, ys, len(pts), code)


def decode_roi(data: bytes, name: str):
    """An ImageJ Roi from .roi bytes, by ij.io.RoiDecoder."""
    return jpype.JClass("ij.io.RoiDecoder")(jpype.JArray(jpype.JByte)(np.frombuffer(data, np.int8)), name).getRoi()


def encode_roi(roi) -> bytes:
    """The .roi bytes ij.io.RoiEncoder writes for an ImageJ Roi."""
    return bytes(np.asarray(jpype.JClass("ij.io.RoiEncoder").saveAsByteArray(roi), dtype=np.int8).view(np.uint8))


def random_area_annotations(rng: np.random.Generator, count: int, extent: int) -> list[Annotation]:
    """Polygons (often self-intersecting), freehand, traced, composite and rectangle annotations
    with vertices on a mix of grids: integers, halves (pixel centres, row centres: ties),
    quarters shifted by 0.1, one decimal, any float, halves with one odd vertex at the minimum."""
    def vertices(n: int) -> np.ndarray:
        kind = rng.integers(6)
        if kind == 0:
            return rng.integers(0, extent, (n, 2)).astype(float)
        if kind == 1:
            return rng.integers(-2, 2 * extent, (n, 2)) / 2
        if kind == 2:
            return rng.integers(-8, 4 * extent, (n, 2)) / 4 + rng.integers(0, 3) * 0.1
        if kind == 3:
            return np.round(rng.uniform(-3, extent + 3, (n, 2)), 1)
        if kind == 4:
            return rng.uniform(-3, extent + 3, (n, 2))
        p = rng.integers(0, 2 * extent, (n, 2)) / 2
        p[0] = rng.uniform(0, 2, 2)
        return p

    anns = []
    for i in range(count):
        roi_type = ("polygon", "freehand", "traced", "composite", "rectangle")[i % 5]
        if roi_type == "composite":
            paths = [vertices(int(rng.integers(3, 8))) for _ in range(int(rng.integers(1, 4)))]
            anns.append(Annotation(paths[0], subpaths=tuple(paths[1:]), roi_type=roi_type, name=f"r{i}"))
        elif roi_type == "rectangle":
            (x0, y0), (w, h) = vertices(1)[0], np.abs(vertices(1)[0]) / 2
            box = [[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]]
            anns.append(Annotation(box, roi_type=roi_type, name=f"r{i}"))
        else:
            anns.append(Annotation(vertices(int(rng.integers(3, 9))), roi_type=roi_type, name=f"r{i}"))
    return anns


def check_random_annotations(anns: list[Annotation], shape: tuple[int, int], folder: Path) -> None:
    """ImageJ's own ROIs for ``anns``, and ``anns`` written by write_roiset and decoded by
    ImageJ: the same pixels as annotation_mask. Rectangles (float and empty ones too) stay
    rectangles in ImageJ, and read_roiset gives them back with the same pixels and corners
    (to float32 precision)."""
    ours = [annotation_mask(ann, shape) for ann in anns]
    for ann, mask in zip(anns, ours):
        assert np.array_equal(imagej_mask(imagej_roi(ann), shape), mask), (ann.roi_type, ann.paths)
    path = folder / "random.zip"
    write_roiset(path, anns)
    with zipfile.ZipFile(path) as zf:
        assert len(zf.namelist()) == len(anns)
        for ann, mask, entry in zip(anns, ours, zf.namelist()):
            roi = decode_roi(zf.read(entry), entry)
            if ann.roi_type == "rectangle":  # float and empty ones too, as sub-pixel rectangles
                assert str(roi.getTypeAsString()) == "Rectangle", ann.paths
            assert np.array_equal(imagej_mask(roi, shape), mask), (ann.roi_type, str(roi.getTypeAsString()), ann.paths)
    back_all = read_roiset(path)
    assert len(back_all) == len(anns)
    for ann, mask, back in zip(anns, ours, back_all):
        if ann.roi_type == "rectangle":
            assert back.roi_type == "rectangle" and np.array_equal(annotation_mask(back, shape), mask), ann.paths
            assert np.allclose(back.bounds(), ann.bounds(), rtol=0, atol=1e-5), (back.paths, ann.paths)


def check_written_by_fiji_bridge(labels: np.ndarray, folder: Path) -> int:
    """labels_to_annotations -> write_roiset -> ImageJ's RoiDecoder: every ROI keeps its name,
    position and type, and its ImageJ mask is exactly its label. Returns the number of ROIs."""
    anns = labels_to_annotations(labels, position=3)
    path = folder / "RoiSet.zip"
    write_roiset(path, anns)
    with zipfile.ZipFile(path) as zf:
        entries = zf.namelist()
        assert len(entries) == len(anns)
        for ann, entry in zip(anns, entries):
            roi = decode_roi(zf.read(entry), entry)
            assert (str(roi.getName()), roi.getPosition()) == (ann.name, 3)
            assert str(roi.getTypeAsString()) == IMAGEJ_TYPES[ann.roi_type], (ann.name, roi.getTypeAsString())
            assert np.array_equal(imagej_mask(roi, labels.shape), labels == int(ann.name)), ann.name
    return len(anns)


def check_threshold_to_selection(labels: np.ndarray, folder: Path) -> tuple[int, int]:
    """ImageJ's ThresholdToSelection of each label, saved by RoiEncoder and read by read_roiset:
    annotation_mask gives exactly the label and ImageJ's mask. Returns (ROIs, composite ROIs)."""
    ByteProcessor = jpype.JClass("ij.process.ByteProcessor")
    no_lut_update = jpype.JClass("ij.process.ImageProcessor").NO_LUT_UPDATE
    ImagePlus = jpype.JClass("ij.ImagePlus")
    ThresholdToSelection = jpype.JClass("ij.plugin.filter.ThresholdToSelection")
    h, w = labels.shape
    values = [int(k) for k in np.unique(labels) if k > 0]
    composite = 0
    path = folder / "t2s.roi"
    for k in values:
        pixels = ((labels == k) * 255).astype(np.uint8).view(np.int8).ravel()
        ip = ByteProcessor(w, h, jpype.JArray(jpype.JByte)(pixels))
        ip.setThreshold(255, 255, no_lut_update)
        roi = ThresholdToSelection.run(ImagePlus("labels", ip))
        roi.setName(f"{k:04d}")
        path.write_bytes(encode_roi(roi))
        (ann,) = read_roiset(path)
        assert ann.name == f"{k:04d}"
        composite += ann.roi_type == "composite"
        ours = annotation_mask(ann, labels.shape)
        assert np.array_equal(ours, labels == k), (k, str(roi.getTypeAsString()))
        assert np.array_equal(ours, imagej_mask(roi, labels.shape)), k
    return len(values), composite


def check_imagej_shapes(rng: np.random.Generator, folder: Path) -> int:
    """Ovals, rectangles and float polygons made by ImageJ, saved by RoiEncoder, read by
    read_roiset: ImageJ's pixels; written back by write_roiset: ImageJ decodes the same pixels.
    Returns the number of ROIs."""
    OvalRoi, Roi = jpype.JClass("ij.gui.OvalRoi"), jpype.JClass("ij.gui.Roi")
    shape = (90, 90)
    rois = [OvalRoi(*map(int, box)) for box in rng.integers(1, 40, (200, 4))]
    rois += [Roi(*map(int, box)) for box in rng.integers(1, 40, (20, 4))]
    for n in rng.integers(3, 12, 100).tolist():
        xs, ys = (jpype.JArray(jpype.JFloat)(rng.uniform(0, 80, n).astype(np.float32)) for _ in range(2))
        rois.append(jpype.JClass("ij.gui.PolygonRoi")(xs, ys, n, Roi.POLYGON))
    path = folder / "shape.roi"
    for roi in rois:
        path.write_bytes(encode_roi(roi))
        (ann,) = read_roiset(path)
        expected = imagej_mask(roi, shape)
        assert np.array_equal(annotation_mask(ann, shape), expected), (str(roi), ann.paths)
        write_roiset(path, [ann])
        assert np.array_equal(imagej_mask(decode_roi(path.read_bytes(), "again"), shape), expected), str(roi)
    return len(rois)


def check_open_shapes(folder: Path) -> int:
    """Lines, polylines, freelines and points written by write_roiset keep their type and
    coordinates in ImageJ; names, groups, positions and colours too. Returns the number of ROIs."""
    anns = [
        Annotation([[1.5, 2.25], [30.75, 12]], name="line", roi_type="line", group=2, position=4),
        Annotation([[1, 2], [3.5, 4], [7, 7]], name="polyline", roi_type="polyline", stroke_color="#ff0000"),
        Annotation([[1, 2], [2, 3], [3, 3]], name="freeline", roi_type="freeline"),
        Annotation([[1, 2], [3, 4], [5.5, 6]], name="points", roi_type="point"),
        Annotation([[1, 2], [9.5, 2], [5, 7.25]], name="float", roi_type="polygon", group=9),
    ]
    types = {"line": "Straight Line", "polyline": "Polyline", "freeline": "Freeline", "point": "Point",
             "polygon": "Polygon"}
    path = folder / "open.zip"
    write_roiset(path, anns)
    with zipfile.ZipFile(path) as zf:
        for ann, entry in zip(anns, zf.namelist()):
            roi = decode_roi(zf.read(entry), entry)
            poly = roi.getFloatPolygon()
            n = poly.npoints
            xy = np.stack([np.asarray(poly.xpoints)[:n], np.asarray(poly.ypoints)[:n]], 1)
            assert str(roi.getTypeAsString()) == types[ann.roi_type], (roi.getTypeAsString(), ann.roi_type)
            assert np.allclose(xy, ann.polygon, atol=1e-5), (ann.name, xy)
            assert (str(roi.getName()), roi.getGroup(), roi.getPosition()) == (ann.name, ann.group, ann.position)
            if ann.stroke_color is not None:  # (ImageJ colours grouped ROIs by their group)
                assert f"#{roi.getStrokeColor().getRGB() & 0xFFFFFF:06x}" == ann.stroke_color
    return len(anns)


def noise_labels(rng: np.random.Generator) -> np.ndarray:
    """A small random label image: holes, diagonal contacts, several pieces per label."""
    return rng.integers(0, 5, (int(rng.integers(1, 40)), int(rng.integers(1, 40))))


# ------------------------------------------------------------------ tests

def test_random_float_rois_rasterise_as_imagej(bridge, tmp_path: Path) -> None:
    anns = random_area_annotations(np.random.default_rng(7), 500, 30)
    check_random_annotations(anns, (36, 36), tmp_path)


def nearly_whole_rectangles() -> list[Annotation]:
    """Rectangles whose width or height is a hair over a whole number in float64 (rounding it to
    float32 makes it whole and ImageJ one pixel smaller), a hair under a corner's integer part,
    negative corners, and empty ones."""
    boxes = [(26.45, 1.5, 35.45, 4.0), (23.73354905, 27.06341445, 31.98354905, 32.06341445),
             (0.1, 0.7, 0.3, 0.9), (2.9999999999, 3.9999999999, 7.5, 8.0), (-0.9999999999, -1.5, 3.2, 2.0),
             (4.0, 5.0, 4.0, 9.0), (1.25, 2.5, 6.75, 2.5), (3.0, 3.0, 3.0, 3.0)]
    return [Annotation([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], roi_type="rectangle", name=f"box{i}")
            for i, (x0, y0, x1, y1) in enumerate(boxes)]


def test_nearly_whole_and_empty_rectangles_keep_their_pixels(bridge, tmp_path: Path) -> None:
    """write_roiset -> RoiDecoder and annotations_to_rois (the RoiBridge shim) give ImageJ's
    double-precision Roi(x, y, width, height) pixels."""
    from fiji_bridge.ij.rois import annotations_to_rois, java_helper

    assert java_helper() is not None, "the RoiBridge shim should be on the class path"
    anns = nearly_whole_rectangles()
    assert annotation_mask(anns[0], (10, 40)).sum(axis=1).max() == 10  # 35.45 - 26.45 > 9 in float64
    check_random_annotations(anns, (12, 40), tmp_path)
    sized = [ann for ann in anns if min(np.ptp(ann.polygon, axis=0)) > 0]  # ImageJ's ROI classes refuse empty ones
    assert len(sized) == 5
    for ann, roi in zip(sized, annotations_to_rois(sized)):
        assert np.array_equal(imagej_mask(roi, (12, 40)), annotation_mask(ann, (12, 40))), ann.paths


def test_fiji_bridge_rois_make_the_same_masks_in_imagej(bridge) -> None:
    """The bridge's own Annotation -> ij.gui.Roi conversion gives ImageJ ROIs with our pixels."""
    from fiji_bridge.ij.rois import annotations_to_rois

    anns = random_area_annotations(np.random.default_rng(8), 200, 30)
    for ann, roi in zip(anns, annotations_to_rois(anns)):
        assert np.array_equal(imagej_mask(roi, (36, 36)), annotation_mask(ann, (36, 36))), (ann.roi_type, ann.paths)


def test_dsb_val_masks_written_by_fiji_bridge_decode_identically_in_imagej(bridge, dsb_val: Path, tmp_path: Path) -> None:
    masks = sorted((dsb_val / "masks").glob("*.tif"))
    assert len(masks) == 56
    total = sum(check_written_by_fiji_bridge(tifffile.imread(p), tmp_path) for p in masks)
    assert total > 2000


def test_threshold_to_selection_rois_read_back_identically(bridge, dsb_val: Path, tmp_path: Path) -> None:
    masks = sorted((dsb_val / "masks").glob("*.tif"))
    rng = np.random.default_rng(3)
    labels = [tifffile.imread(p) for p in masks[::4]] + [noise_labels(rng) for _ in range(10)]
    counts = [check_threshold_to_selection(lab, tmp_path) for lab in labels]
    assert sum(c for _, c in counts) > 10  # holes and several pieces: composite ROIs were checked


def test_imagej_ovals_rectangles_polygons_and_open_shapes_round_trip(bridge, tmp_path: Path) -> None:
    assert check_imagej_shapes(np.random.default_rng(1), tmp_path) == 320
    assert check_open_shapes(tmp_path) == 5

"""Cross-check fiji_bridge.rois against real ImageJ 1.x (ij.jar through JPype, headless).

1. Label images -> write_roiset -> ImageJ RoiDecoder -> Roi.getMask(): pixel-identical to
   annotation_mask and to the label image.
2. ImageJ ThresholdToSelection / OvalRoi / PolygonRoi / Roi -> RoiEncoder -> read_roiset ->
   annotation_mask: pixel-identical to ImageJ's own masks.

Run: .venv/bin/python benchmarks/crosscheck_rois_imagej.py [number of dsb val masks, default all]
"""
from __future__ import annotations

import glob
import os
import sys
import tempfile
import zipfile

import jpype
import numpy as np
import tifffile

from fiji_bridge.annotation import Annotation
from fiji_bridge.rois import annotation_mask, labels_to_annotations, read_roiset, write_roiset

MASKS = sorted(glob.glob("/work/shared/data/dsb2018/val/masks/*.tif"))


def imagej_mask(roi, shape: tuple[int, int]) -> np.ndarray:
    """Full-image boolean mask of an ImageJ Roi (getMask inside getBounds)."""
    out = np.zeros(shape, dtype=bool)
    r = roi.getBounds()
    mask = roi.getMask()
    if mask is None:
        sub = np.ones((r.height, r.width), dtype=bool)
    else:
        sub = np.asarray(mask.getPixels(), dtype=np.int8).reshape(mask.getHeight(), mask.getWidth()) != 0
    x0, y0 = max(r.x, 0), max(r.y, 0)
    x1, y1 = min(r.x + r.width, shape[1]), min(r.y + r.height, shape[0])
    out[y0:y1, x0:x1] = sub[y0 - r.y:y1 - r.y, x0 - r.x:x1 - r.x]
    return out


def check_written_by_fiji_bridge(labels: np.ndarray, folder: str) -> int:
    """Our RoiSet.zip decoded by ImageJ: same pixels, names, types. Returns the number of ROIs."""
    RoiDecoder = jpype.JClass("ij.io.RoiDecoder")
    anns = labels_to_annotations(labels, position=3)
    path = os.path.join(folder, "RoiSet.zip")
    write_roiset(path, anns)
    with zipfile.ZipFile(path) as zf:
        entries = [(n, zf.read(n)) for n in zf.namelist()]
    assert len(entries) == len(anns)
    for ann, (entry, data) in zip(anns, entries):
        roi = RoiDecoder(jpype.JArray(jpype.JByte)(data), entry).getRoi()
        assert str(roi.getName()) == ann.name, (roi.getName(), ann.name)
        assert roi.getPosition() == 3
        expected_type = "Composite" if ann.roi_type == "composite" else "Traced"
        assert str(roi.getTypeAsString()) == expected_type, (roi.getTypeAsString(), ann.roi_type)
        ours = annotation_mask(ann, labels.shape)
        assert np.array_equal(imagej_mask(roi, labels.shape), ours), ann.name
        assert np.array_equal(ours, labels == int(ann.name)), ann.name
    return len(anns)


def check_threshold_to_selection(labels: np.ndarray, folder: str) -> tuple[int, int]:
    """ImageJ ThresholdToSelection ROIs saved by RoiEncoder, read by read_roiset: same pixels.
    Returns (number of ROIs, how many of them were composite)."""
    ByteProcessor = jpype.JClass("ij.process.ByteProcessor")
    ImageProcessor = jpype.JClass("ij.process.ImageProcessor")
    ImagePlus = jpype.JClass("ij.ImagePlus")
    ThresholdToSelection = jpype.JClass("ij.plugin.filter.ThresholdToSelection")
    RoiEncoder = jpype.JClass("ij.io.RoiEncoder")
    h, w = labels.shape
    values = [k for k in np.unique(labels) if k > 0]
    composite = 0
    for k in values:
        pixels = ((labels == k) * 255).astype(np.uint8).view(np.int8).ravel()
        ip = ByteProcessor(w, h, jpype.JArray(jpype.JByte)(pixels))
        ip.setThreshold(255, 255, ImageProcessor.NO_LUT_UPDATE)
        roi = ThresholdToSelection.run(ImagePlus("labels", ip))
        roi.setName(f"{k:04d}")
        path = os.path.join(folder, "t2s.roi")
        with open(path, "wb") as fh:
            fh.write(bytes(np.asarray(RoiEncoder.saveAsByteArray(roi), dtype=np.int8).view(np.uint8)))
        (ann,) = read_roiset(path)
        assert ann.name == f"{k:04d}"
        composite += ann.roi_type == "composite"
        ours = annotation_mask(ann, labels.shape)
        assert np.array_equal(ours, labels == k), (k, roi.getTypeAsString())
        assert np.array_equal(ours, imagej_mask(roi, labels.shape)), k
    return len(values), composite


def check_shapes(folder: str) -> int:
    """Ovals, rectangles and sub-pixel polygons made by ImageJ read back with ImageJ's pixels."""
    OvalRoi = jpype.JClass("ij.gui.OvalRoi")
    Roi = jpype.JClass("ij.gui.Roi")
    PolygonRoi = jpype.JClass("ij.gui.PolygonRoi")
    RoiEncoder = jpype.JClass("ij.io.RoiEncoder")
    rng = np.random.default_rng(1)
    shape = (90, 90)
    rois = [OvalRoi(int(x), int(y), int(w), int(h)) for x, y, w, h in rng.integers(1, 40, (200, 4))]
    rois += [Roi(int(x), int(y), int(w), int(h)) for x, y, w, h in rng.integers(1, 40, (20, 4))]
    for _ in range(100):
        n = int(rng.integers(3, 12))
        xs, ys = rng.uniform(0, 80, n).astype(np.float32), rng.uniform(0, 80, n).astype(np.float32)
        rois.append(PolygonRoi(jpype.JArray(jpype.JFloat)(xs), jpype.JArray(jpype.JFloat)(ys), n, Roi.POLYGON))
    path = os.path.join(folder, "shape.roi")
    for roi in rois:
        with open(path, "wb") as fh:
            fh.write(bytes(np.asarray(RoiEncoder.saveAsByteArray(roi), dtype=np.int8).view(np.uint8)))
        (ann,) = read_roiset(path)
        assert np.array_equal(annotation_mask(ann, shape), imagej_mask(roi, shape)), (roi, ann)
        # and back: our file decoded by ImageJ gives the same pixels again
        write_roiset(path, [ann])
        with open(path, "rb") as fh:
            again = jpype.JClass("ij.io.RoiDecoder")(jpype.JArray(jpype.JByte)(fh.read()), "x").getRoi()
        assert np.array_equal(imagej_mask(again, shape), imagej_mask(roi, shape)), (roi, ann.roi_type)
    return len(rois)


def check_open_shapes(folder: str) -> int:
    """Lines, polylines, freelines and points written by fiji_bridge keep their type and
    coordinates in ImageJ; names, groups, positions and colours too."""
    RoiDecoder = jpype.JClass("ij.io.RoiDecoder")
    anns = [
        Annotation([[1.5, 2.25], [30.75, 12]], name="line", roi_type="line", group=2, position=4),
        Annotation([[1, 2], [3.5, 4], [7, 7]], name="polyline", roi_type="polyline", stroke_color="#ff0000"),
        Annotation([[1, 2], [2, 3], [3, 3]], name="freeline", roi_type="freeline"),
        Annotation([[1, 2], [3, 4], [5.5, 6]], name="points", roi_type="point"),
        Annotation([[1, 2], [9.5, 2], [5, 7.25]], name="float", roi_type="polygon", group=9),
    ]
    types = {"line": "Straight Line", "polyline": "Polyline", "freeline": "Freeline", "point": "Point",
             "polygon": "Polygon"}
    path = os.path.join(folder, "open.zip")
    write_roiset(path, anns)
    with zipfile.ZipFile(path) as zf:
        for ann, entry in zip(anns, zf.namelist()):
            roi = RoiDecoder(jpype.JArray(jpype.JByte)(zf.read(entry)), entry).getRoi()
            poly = roi.getFloatPolygon()
            xy = np.stack([np.asarray(poly.xpoints)[:poly.npoints], np.asarray(poly.ypoints)[:poly.npoints]], 1)
            assert str(roi.getTypeAsString()) == types[ann.roi_type], (roi.getTypeAsString(), ann.roi_type)
            assert np.allclose(xy, ann.polygon, atol=1e-5), (ann.name, xy)
            assert (str(roi.getName()), roi.getGroup(), roi.getPosition()) == (ann.name, ann.group, ann.position)
            if ann.stroke_color is not None:  # (ImageJ colours grouped ROIs by their group)
                rgb = roi.getStrokeColor().getRGB() & 0xFFFFFF
                assert f"#{rgb:06x}" == ann.stroke_color, (rgb, ann.stroke_color)
    return len(anns)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else len(MASKS)
    jpype.startJVM("-Djava.awt.headless=true", classpath=["/usr/share/java/ij.jar"], convertStrings=True)
    with tempfile.TemporaryDirectory() as folder:
        written = read = composite = 0
        for path in MASKS[:count]:
            labels = tifffile.imread(path)
            written += check_written_by_fiji_bridge(labels, folder)
            n, c = check_threshold_to_selection(labels, folder)
            read, composite = read + n, composite + c
        rng = np.random.default_rng(0)
        for _ in range(20):  # noise labels: holes, diagonal contacts, many pieces per label
            labels = rng.integers(0, 5, (int(rng.integers(1, 40)), int(rng.integers(1, 40))))
            written += check_written_by_fiji_bridge(labels, folder)
            n, c = check_threshold_to_selection(labels, folder)
            read, composite = read + n, composite + c
        shapes = check_shapes(folder) + check_open_shapes(folder)
    print(f"ImageJ agrees: {written} ROIs written by fiji_bridge, {read} ThresholdToSelection ROIs ({composite} composite), "
          f"{shapes} oval/rectangle/polygon/line/point ROIs, {count} dsb val masks + 20 random label images")


if __name__ == "__main__":
    main()

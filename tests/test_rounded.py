"""Rounded rectangles (ImageJ's Roi with a corner diameter) keep ImageJ's pixels everywhere: in the
Roi -> Annotation conversion (Java helper and JPype fallback), the ROI Manager, RoiSet.zip files
ImageJ saved, Accept Contour and the exports."""
from __future__ import annotations

from pathlib import Path

import jpype
import numpy as np
import pytest
import tifffile

from fiji_bridge.errors import InputError
from fiji_bridge.ij import rois
from fiji_bridge.rois import annotation_mask, read_roiset, write_roiset
from fiji_bridge.rois.roiset import rounded_rect_outline
from test_rois_imagej import decode_roi, encode_roi, imagej_mask

pytestmark = pytest.mark.imagej

SHAPE = (96, 96)


def rounded_rectangles(rng: np.random.Generator, count: int) -> list:
    """ImageJ rounded rectangles: integer and sub-pixel bounds, corners from 1 px to more than
    the width or height (then ImageJ makes them elliptic), the audit's 40 x 30 with corner 10."""
    Roi = jpype.JClass("ij.gui.Roi")
    made = [Roi(20, 50, 40, 30, 10)]
    for i in range(count):
        x, y = rng.integers(0, 40, 2).tolist()
        w, h = rng.integers(1, 50, 2).tolist()
        corner = int(rng.integers(1, 60))
        if i % 4 == 3:
            made.append(Roi(float(x) + float(rng.uniform(0, 1)), float(y) + 0.5, float(w) + 0.25, float(h), corner))
        else:
            made.append(Roi(x, y, w, h, corner))
    return made


@pytest.mark.parametrize("path", ["java helper", "pure JPype"])
def test_rounded_rectangles_convert_to_imagej_pixels(bridge, path):
    made = rounded_rectangles(np.random.default_rng(5), 400)
    assert made[0].getCornerDiameter() == 10 and imagej_mask(made[0], SHAPE).sum() == 1180
    if path == "java helper":
        assert rois.java_helper() is not None
        anns = rois.rois_to_annotations(made)
    else:
        anns = [rois.roi_to_annotation(r) for r in made]
    for roi, ann in zip(made, anns):
        assert ann.roi_type == "traced"
        assert np.array_equal(annotation_mask(ann, SHAPE), imagej_mask(roi, SHAPE)), str(roi)


def test_rounded_rectangles_saved_by_imagej_read_with_their_pixels(bridge, tmp_path: Path):
    path = tmp_path / "rounded.roi"
    for roi in rounded_rectangles(np.random.default_rng(6), 300):
        expected = imagej_mask(roi, SHAPE)
        path.write_bytes(encode_roi(roi))
        (ann,) = read_roiset(path)
        assert np.array_equal(annotation_mask(ann, SHAPE), expected), str(roi)
        write_roiset(path, [ann])  # and ImageJ decodes what fiji_bridge writes to the same pixels
        assert np.array_equal(imagej_mask(decode_roi(path.read_bytes(), "again"), SHAPE), expected), str(roi)


def test_rounded_rectangle_outline_is_pure_numpy_and_checks_its_box():
    outline = rounded_rect_outline(3, 4, 10, 6, 4)
    assert outline.dtype.kind in "fi" and outline.min(axis=0).tolist() == [3, 4]
    with pytest.raises(InputError, match="empty bounding box"):
        rounded_rect_outline(0, 0, 0, 5, 2)


def test_accept_contour_and_export_keep_the_rounded_corners(clean_ij, dsb_val: Path, tmp_path: Path):
    image_id = sorted(p.stem for p in (dsb_val / "images").glob("*.tif"))[1]
    clean_ij.run_macro(f'open("{dsb_val / "images" / image_id}.tif");'
                       'makeRectangle(20, 150, 40, 30, 10); run("Accept Contour");')
    expected = imagej_mask(jpype.JClass("ij.gui.Roi")(20, 150, 40, 30, 10), (256, 256))
    assert expected.sum() == 1180
    added = clean_ij.RoiManager.getInstance().getRoi(0)
    assert np.array_equal(imagej_mask(added, (256, 256)), expected)
    clean_ij.run_macro('roiManager("reset"); makeRectangle(20, 150, 40, 30, 10); roiManager("add");'
                       f'run("Export Annotations", "source=[ROI Manager] output={tmp_path} layered");')
    layered = tifffile.imread(tmp_path / "layered_masks" / f"{image_id}.tiff")
    assert np.array_equal(layered.reshape(-1, 256, 256).max(axis=0) > 0, expected)

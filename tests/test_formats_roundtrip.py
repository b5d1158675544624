"""Round trips on every mask of dsb2018/val: labels -> ROIs -> each export -> import -> labels.

Objects get classes (label % 3: unclassified, Class_01, Class_02) so that class survival is
checked in every format that carries classes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from scipy import ndimage

from fiji_bridge.formats import annotatorj
from fiji_bridge.formats.bbox import bounding_box
from fiji_bridge.formats.coco import ImageAnnotations, read_coco
from fiji_bridge.formats.exports import export_annotations
from fiji_bridge.formats.images import read_slice_labels
from fiji_bridge.formats.imports import import_annotations
from fiji_bridge.formats.masks import crop_mask, label_mask
from fiji_bridge.rois.labels import labels_to_annotations

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2


@pytest.fixture(scope="module")
def val(dsb_val):
    """[(image name, label image, annotations with classes)] for every val mask."""
    cases = []
    for path in sorted((dsb_val / "masks").glob("*.tif")):
        labels = tifffile.imread(path)
        anns = labels_to_annotations(labels)
        for ann in anns:
            ann.group = int(ann.name) % 3
        cases.append((path.name, labels, anns))
    assert len(cases) == 56
    return cases


@pytest.fixture(scope="module")
def exported(val, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    items = [ImageAnnotations(name, labels.shape, anns) for name, labels, anns in val]
    export_annotations(items, out, ["labels", "layered", "binary", "bbox", "coco"])
    export_annotations(items, out / "polygons", ["yolo"], yolo_mode="polygons")
    export_annotations(items, out / "boxes", ["yolo"], yolo_mode="boxes")
    return out


def _imported(path: Path, **kwargs) -> list:
    [item] = import_annotations(path, **kwargs)
    return item.annotations


def _groups(anns) -> list[int]:
    return [a.group for a in anns]


def test_every_val_mask_survives_labels_to_rois_and_back(val):
    for _, labels, anns in val:
        assert np.array_equal(label_mask(anns, labels.shape, by="name"), labels)


def test_label_masks_round_trip_pixel_identical_with_classes(val, exported):
    for name, labels, anns in val:
        stem = Path(name).stem
        path = exported / "labelled_masks" / f"{stem}.tiff"
        assert np.array_equal(tifffile.imread(path), labels)  # dsb labels are 1..n = ROI index + 1
        back = _imported(path)
        assert [a.name for a in back] == [a.name for a in anns]
        assert np.array_equal(label_mask(back, labels.shape, by="name"), labels)
        assert _groups(back) == _groups(anns)
        for group in (1, 2):  # Class_NN copies hold only that class, labels = integer ROI names
            expected = np.where(labels % 3 == group, labels, 0)
            cls = exported / "labelled_masks" / f"Class_{group:02d}" / f"{stem}.tiff"
            assert cls.is_file() == bool(expected.any())
            if expected.any():
                assert np.array_equal(tifffile.imread(cls), expected)


def test_layered_masks_round_trip_pixel_identical_with_names_and_classes(val, exported):
    for name, labels, anns in val:
        path = exported / "layered_masks" / f"{Path(name).stem}.tiff"
        with tifffile.TiffFile(path) as tif:
            assert tif.series[0].dtype == np.uint16 and len(tif.pages) == len(anns)
        assert read_slice_labels(path) == [a.name for a in anns]
        back = _imported(path)
        assert [a.name for a in back] == [a.name for a in anns]
        assert _groups(back) == _groups(anns)
        for before, after in zip(anns, back):
            (y0, x0, m0), (y1, x1, m1) = crop_mask(before, labels.shape), crop_mask(after, labels.shape)
            assert (y0, x0) == (y1, x1) and np.array_equal(m0, m1)


def test_binary_masks_keep_the_foreground_and_split_objects_by_connectivity(val, exported):
    for name, labels, anns in val:
        path = exported / "binary_masks" / f"{Path(name).stem}.tiff"
        assert np.array_equal(tifffile.imread(path), (labels > 0).astype(np.uint16))
        back = _imported(path)
        components, count = ndimage.label(labels > 0, structure=np.ones((3, 3)))
        assert len(back) == count
        assert np.array_equal(label_mask(back, labels.shape) > 0, labels > 0)
        for ann in back:  # an object alone in its component keeps its class
            y0, x0, m = crop_mask(ann, labels.shape)
            inside = np.unique(labels[y0:y0 + m.shape[0], x0:x0 + m.shape[1]][m])
            if inside.size == 1:
                assert ann.group == inside[0] % 3


def test_box_csv_round_trips_boxes_and_classes(val, exported):
    for name, labels, anns in val:
        path = exported / "bounding_box_coordinates" / f"{Path(name).stem}.csv"
        assert path.read_text().splitlines()[0] == "x,y,width,height"
        back = _imported(path)
        assert [bounding_box(a) for a in back] == [bounding_box(a) for a in anns]
        for ann, label in zip(back, np.unique(labels)[1:]):  # pixel boxes, as numpy sees them
            rows, cols = np.nonzero(labels == label)
            assert bounding_box(ann) == (cols.min(), rows.min(), np.ptp(cols) + 1, np.ptp(rows) + 1)
        assert _groups(back) == _groups(anns)


def test_coco_loads_in_pycocotools_with_exact_areas_and_pixels(val, exported):
    path = exported / "coco" / "annotations.json"
    coco = COCO(str(path))
    assert len(coco.getImgIds()) == 56 and len(coco.getAnnIds()) == sum(len(a) for *_, a in val)
    assert sorted(coco.getCatIds()) == [0, 1, 2]
    assert [c["name"] for c in coco.loadCats([0, 1, 2])] == ["unclassified", "Class_01", "Class_02"]
    worst = 0.0
    for image_id, (name, labels, anns) in enumerate(val, start=1):
        info = coco.loadImgs(image_id)[0]
        assert (info["file_name"], info["height"], info["width"]) == (name, *labels.shape)
        for entry, ann in zip(coco.loadAnns(coco.getAnnIds(imgIds=image_id)), anns):
            pixels = labels == int(ann.name)
            rle = coco.annToRLE(entry)
            worst = max(worst, abs(float(coco_mask.area(rle)) - pixels.sum()) / pixels.sum())
            assert entry["area"] == pixels.sum()
            assert np.array_equal(coco_mask.decode(rle).astype(bool), pixels)
            assert entry["category_id"] == ann.group
    assert worst <= 0.01


def test_coco_round_trips_objects_names_and_classes(val, exported):
    items, names = read_coco(exported / "coco" / "annotations.json")
    assert names == {0: "unclassified", 1: "Class_01", 2: "Class_02"}
    for item, (name, labels, anns) in zip(items, val):
        assert item.file_name == name and item.shape == labels.shape
        assert [a.name for a in item.annotations] == [a.name for a in anns]
        assert _groups(item.annotations) == _groups(anns)
        assert np.array_equal(label_mask(item.annotations, labels.shape, by="name"), labels)


def test_coco_uses_rle_only_for_objects_with_holes(val, exported):
    items = read_coco(exported / "coco" / "annotations.json")[0]
    coco = COCO(str(exported / "coco" / "annotations.json"))
    rle = [a for a in coco.dataset["annotations"] if isinstance(a["segmentation"], dict)]
    composite = [a for *_, anns in val for a in anns if a.roi_type == "composite"]
    assert 1 <= len(rle) <= len(composite)
    assert all(item.annotations for item in items)


def test_yolo_polygons_round_trip_pixels_and_classes(val, exported):
    classes = (exported / "polygons" / "yolo" / "classes.txt").read_text().splitlines()
    assert classes == ["unclassified", "Class_01", "Class_02"]
    for name, labels, anns in val:
        back = _imported(exported / "polygons" / "yolo" / f"{Path(name).stem}.txt",
                         image=exported / "labelled_masks" / f"{Path(name).stem}.tiff")
        assert _groups(back) == _groups(anns)
        assert np.array_equal(label_mask(back, labels.shape), labels)


def test_yolo_boxes_round_trip_boxes_and_classes(val, exported):
    for name, labels, anns in val:
        stem = Path(name).stem
        back = _imported(exported / "boxes" / "yolo" / f"{stem}.txt",
                         image=exported / "labelled_masks" / f"{stem}.tiff")
        assert [bounding_box(a) for a in back] == [bounding_box(a) for a in anns]
        assert _groups(back) == _groups(anns)


def test_exporter_uses_annotatorj_names(exported, val):
    stem = Path(val[0][0]).stem
    for fmt, suffix in (("labels", ".tiff"), ("layered", ".tiff"), ("binary", ".tiff"), ("bbox", ".csv")):
        assert annotatorj.output_file(exported, fmt, stem) == exported / annotatorj.FOLDERS[fmt] / f"{stem}{suffix}"
        assert (exported / annotatorj.FOLDERS[fmt] / f"{stem}{suffix}").is_file()
        assert (exported / annotatorj.FOLDERS[fmt] / "Class_01" / f"{stem}{suffix}").is_file()
    assert annotatorj.roiset_name("dir/img.one.tif") == "img.one_ROIs.zip"

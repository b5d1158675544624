"""Property tests: random label images (holes, islands, diagonal touches) survive every format."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as coco_mask

from fiji_bridge.formats.bbox import boxes_csv
from fiji_bridge.formats.coco import ImageAnnotations, coco_dataset, read_coco, write_text
from fiji_bridge.formats.masks import annotations_from_layers, label_mask, layered_stack
from fiji_bridge.formats.yolo import keyhole, read_yolo, yolo_text
from fiji_bridge.rois.labels import annotation_mask, labels_to_annotations
from fiji_bridge.annotation import Annotation

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2
label_images = arrays(np.uint16, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.integers(0, 4))


@settings(max_examples=60, deadline=None)
@given(labels=label_images)
def test_layered_stack_round_trip(labels):
    anns = labels_to_annotations(labels)
    back = annotations_from_layers(layered_stack(anns, labels.shape), [a.name for a in anns])
    assert np.array_equal(label_mask(back, labels.shape, by="name"), labels)


@settings(max_examples=60, deadline=None)
@given(labels=label_images)
def test_coco_round_trip_and_pycocotools_pixels(labels, tmp_path_factory):
    anns = labels_to_annotations(labels)
    data = coco_dataset([ImageAnnotations("x.tif", labels.shape, anns)])
    for entry, ann in zip(data["annotations"], anns):
        pixels = labels == int(ann.name)
        rle = coco_mask.frPyObjects(entry["segmentation"], *labels.shape) \
            if isinstance(entry["segmentation"], list) else dict(entry["segmentation"], counts=entry["segmentation"]["counts"].encode())
        rle = coco_mask.merge(rle) if isinstance(rle, list) else rle
        assert np.array_equal(coco_mask.decode(rle).astype(bool), pixels)
        assert entry["area"] == pixels.sum()
    path = tmp_path_factory.mktemp("coco") / "c.json"
    path.write_text(write_text(data))
    [item], _ = read_coco(path)
    assert np.array_equal(label_mask(item.annotations, labels.shape, by="name"), labels)


@settings(max_examples=60, deadline=None)
@given(labels=label_images)
def test_yolo_polygons_round_trip(labels, tmp_path_factory):
    anns = labels_to_annotations(labels)
    path = tmp_path_factory.mktemp("yolo") / "x.txt"
    path.write_text(yolo_text(anns, labels.shape, "polygons"))
    back = read_yolo(path, labels.shape)
    assert np.array_equal(label_mask(back, labels.shape), label_mask(anns, labels.shape))


def test_keyhole_keeps_a_hole_and_an_island():
    ring = np.zeros((9, 9), np.uint8)
    ring[1:8, 1:8] = 1
    ring[2:7, 2:7] = 0
    ring[4, 4] = 1  # island in the hole
    [ann] = labels_to_annotations(ring)
    assert len(ann.paths) == 3
    single = Annotation(keyhole(ann.paths))
    assert np.array_equal(annotation_mask(single, ring.shape), ring.astype(bool))


polygons = st.lists(st.tuples(st.floats(-6, 30), st.floats(-6, 30)), min_size=3, max_size=8)


@settings(max_examples=80, deadline=None)
@given(points=polygons, snap=st.booleans())
@example(points=[(1.0, 1.0), (3.0, 0.0), (1.7976274156802283, 1.7976274156802283)], snap=False)  # centre on an edge
@example(points=[(1.0, 0.0), (1.0, 1.0), (1.7976274156802283, 1.7976274156802283)], snap=False)
def test_coco_polygons_decode_to_imagej_pixels_for_any_polygon(points, snap):
    # hand-drawn polygons: slanted edges, sub-pixel or integer vertices, parts outside the image
    shape = (24, 20)
    ann = Annotation(np.round(points) if snap else points, name="0001", group=3)
    pixels = annotation_mask(ann, shape)
    data = coco_dataset([ImageAnnotations("x.tif", shape, [ann])])
    if not pixels.any():
        assert data["annotations"] == []
        return
    [entry] = data["annotations"]
    segm = entry["segmentation"]
    rle = coco_mask.merge(coco_mask.frPyObjects(segm, *shape)) if isinstance(segm, list) \
        else dict(segm, counts=segm["counts"].encode())
    assert np.array_equal(coco_mask.decode(rle).astype(bool), pixels)
    rows, cols = np.nonzero(pixels)
    assert entry["area"] == pixels.sum() and entry["category_id"] == 3 and entry["name"] == "0001"
    assert entry["bbox"] == [cols.min(), rows.min(), np.ptp(cols) + 1, np.ptp(rows) + 1]


def test_boxes_and_yolo_stay_inside_the_image(tmp_path):
    shape = (40, 50)  # (height, width)
    across = Annotation([(-5, -5), (8, -5), (8, 8), (-5, 8)], roi_type="rectangle")
    edge = Annotation([(45, 30), (55, 30), (55, 45), (45, 45)], roi_type="rectangle")
    outside = Annotation([(60, 60), (70, 60), (70, 70)])
    no_pixel = Annotation([(-6, 17), (0.4, 17), (0.4, 33), (-6, 33)], roi_type="oval")  # box reaches in, no pixel
    anns = [across, edge, outside, no_pixel]
    assert boxes_csv(anns, shape).splitlines() == ["x,y,width,height", "0,0,8,8", "45,30,5,10"]
    for mode in ("boxes", "polygons"):
        lines = yolo_text(anns, shape, mode).splitlines()
        values = np.array([float(v) for line in lines for v in line.split()[1:]])
        assert len(lines) == 2 and values.min() >= 0 and values.max() <= 1
    path = tmp_path / "x.txt"
    path.write_text(yolo_text(anns, shape, "polygons"))
    polygons = read_yolo(path, shape)
    assert np.array_equal(label_mask(polygons, shape), label_mask(anns, shape))
    data = coco_dataset([ImageAnnotations("x.tif", shape, anns)])
    assert [e["bbox"] for e in data["annotations"]] == [[0, 0, 8, 8], [45, 30, 5, 10]]

"""Simulated quick inits and the touching-neighbour rule used by training and the benchmark."""
from __future__ import annotations

import numpy as np

from fiji_bridge.annotation import Annotation
from fiji_bridge.contour.crop import extract, make_window, network_input, stroke_pixels
from fiji_bridge.contour.inits import simulate, touching_labels
from fiji_bridge.rois.labels import annotation_mask


def ellipse(shape=(100, 120), centre=(50, 60), axes=(14, 22)) -> np.ndarray:
    yy, xx = np.mgrid[:shape[0], :shape[1]] + 0.5
    return ((yy - centre[0]) / axes[0]) ** 2 + ((xx - centre[1]) / axes[1]) ** 2 <= 1


def test_inits_are_rough_but_point_at_the_object():
    obj = ellipse()
    rng = np.random.default_rng(0)
    poly_iou, line_inside, box_cover = [], [], []
    for _ in range(40):
        poly = annotation_mask(Annotation(simulate("polygon", obj, rng, obj.shape)), obj.shape)
        poly_iou.append((poly & obj).sum() / (poly | obj).sum())
        line = stroke_pixels(simulate("line", obj, rng, obj.shape), False, obj.shape)
        line_inside.append((line & obj).sum() / line.sum())
        box = annotation_mask(Annotation(simulate("box", obj, rng, obj.shape)), obj.shape)
        box_cover.append((box & obj).sum() / obj.sum())
    assert 0.45 < np.mean(poly_iou) < 0.9 and min(poly_iou) < 0.8  # rough, not exact
    assert np.mean(line_inside) > 0.8
    assert np.mean(box_cover) > 0.9


def test_touching_labels_include_diagonal_contact_only_between_different_objects():
    labels = np.zeros((8, 8), np.uint16)
    labels[1:3, 1:3] = 1
    labels[3:5, 3:5] = 2   # diagonal contact with 1
    labels[6:8, 0:2] = 3   # alone
    labels[1:3, 3:5] = 4   # side contact with 1 (and diagonal with nothing else)
    assert touching_labels(labels) == {1, 2, 4}


def test_window_mirrors_past_the_image_edge_and_input_channels_are_in_range():
    image = np.arange(30 * 40, dtype=np.uint16).reshape(30, 40)
    init = np.array([[1.0, 1.0], [30.0, 1.0], [30.0, 3.0]])  # wide and near the top: window reaches above
    win = make_window(init, image.shape, 17)
    assert win.x0 == 0 and win.y0 < 0 and win.side == 40
    crop = extract(image, win)
    assert crop.shape == (40, 40)
    assert np.array_equal(crop[-win.y0], image[0]) and np.array_equal(crop[-win.y0 - 1], image[1])
    x = network_input(image, init, True, win)
    assert x.shape == (3, 64, 64) and x.min() >= 0 and x.max() <= 1
    assert x[1].sum() > 0 and x[2].max() == 1.0

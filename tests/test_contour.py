"""suggest_contour: image types, bad input, the crop and `existing` rules, region growing, the model."""
from __future__ import annotations


import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

import fiji_bridge
from fiji_bridge.annotation import Annotation
from fiji_bridge.contour import unet
from fiji_bridge.contour.api import suggest_candidates
from fiji_bridge.contour.candidates import ranked_components
from fiji_bridge.contour.crop import Window, crop_box, extract, make_window, network_input, resize, source_region
from fiji_bridge.contour.data import image_ids, load_pair
from fiji_bridge.contour.inits import CLOSED, simulate
from fiji_bridge.contour.model import GuidedUNet
from fiji_bridge.layers import fold_batchnorm
from fiji_bridge.nucleaizer.model import UNet as NucleusUNet
from fiji_bridge.errors import FijiBridgeError, InputError
from fiji_bridge.rois.labels import annotation_mask, labels_to_annotations



def mask_of(poly: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return annotation_mask(Annotation(poly), shape)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def square(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def disks(shape=(80, 120), centres=((30, 40), (30, 80)), radius=12, fg=200, bg=20) -> tuple[np.ndarray, np.ndarray]:
    """uint8 image of bright disks and their label image; centres are (y, x)."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    labels = np.zeros(shape, np.uint16)
    for k, (cy, cx) in enumerate(centres, start=1):
        labels[(yy + 0.5 - cy) ** 2 + (xx + 0.5 - cx) ** 2 <= radius ** 2] = k
    return np.where(labels > 0, fg, bg).astype(np.uint8), labels


@pytest.fixture(scope="module")
def val_image(dsb_val) -> tuple[np.ndarray, np.ndarray]:
    return load_pair(dsb_val, image_ids(dsb_val)[0])


# --- image types ----------------------------------------------------------------------------

def test_bit_depth_and_float_give_the_same_suggestion(val_image):
    rgb, labels = val_image
    grey = rgb[..., 0]
    k = int(np.bincount(labels.ravel())[1:].argmax()) + 1
    init = simulate("polygon", labels == k, np.random.default_rng(3), labels.shape)
    ref = mask_of(fiji_bridge.suggest_contour(grey, init), labels.shape)
    for image in (rgb, grey.astype(np.uint16) * 257, grey.astype(np.float32) / 255, grey.astype(np.float64) - 1000,
                  grey.astype(np.int16) - 100, grey.astype(np.int32) * 1000, grey.astype(np.float16), grey.tolist()):
        got = mask_of(fiji_bridge.suggest_contour(image, init), labels.shape)
        assert iou(got, ref) > 0.97, np.asarray(image).dtype
    assert iou(ref, labels == k) > 0.6


@pytest.mark.parametrize("method", ["unet", "region_growing", "active_contour"])
def test_polygon_is_pixel_exact_and_touches_the_init(method, val_image):
    rgb, labels = val_image
    k = int(np.bincount(labels.ravel())[1:].argmax()) + 1
    init = simulate("polygon", labels == k, np.random.default_rng(5), labels.shape)
    poly = fiji_bridge.suggest_contour(rgb, init, method=method)
    assert poly.ndim == 2 and poly.shape[1] == 2 and poly.dtype == np.float64
    assert np.array_equal(poly, np.round(poly)), "outline must run along pixel edges"
    got = mask_of(poly, labels.shape)
    assert (got & mask_of(init, labels.shape)).any()


# --- bad input ------------------------------------------------------------------------------

GOOD_IMAGE, _ = disks()
GOOD_INIT = square(28, 18, 52, 42)


@pytest.mark.parametrize("image, init, kwargs, words", [
    (GOOD_IMAGE, np.zeros((0, 2)), {}, "(N, 2)"),
    (GOOD_IMAGE, [[1, 2, 3]], {}, "(N, 2)"),
    (GOOD_IMAGE, square(40, 30, 41, 31), {}, "too small"),
    (GOOD_IMAGE, [[40, 30], [41, 31]], {}, "3 vertices"),
    (GOOD_IMAGE, [[40, 30], [40.5, 30.5]], {"closed": False}, "too short"),
    (GOOD_IMAGE, square(200, 200, 230, 230), {}, "outside the image"),
    (GOOD_IMAGE, square(-30, 10, -5, 30), {}, "outside the image"),
    (GOOD_IMAGE, [[np.nan, 1], [5, 5], [1, 9]], {}, "not finite"),
    (np.zeros((80, 120), np.uint8), GOOD_INIT, {}, "all zeros"),
    (np.full((80, 120), 7, np.uint16), GOOD_INIT, {}, "no contrast"),
    (np.where(GOOD_IMAGE > 100, np.nan, 1.0).astype(np.float32), GOOD_INIT, {}, "NaN"),
    (np.zeros((80, 120, 4), np.uint8), GOOD_INIT, {}, "RGB"),
    (np.zeros((2, 80, 120, 3), np.uint8), GOOD_INIT, {}, "RGB"),
    (GOOD_IMAGE.astype(np.complex64), GOOD_INIT, {}, "integers or real numbers"),
    (GOOD_IMAGE, GOOD_INIT, {"method": "watershed"}, "unknown contour method"),
    (GOOD_IMAGE, GOOD_INIT, {"max_distance": -1}, "max_distance"),
])
def test_bad_input_raises_a_clear_input_error(image, init, kwargs, words):
    with pytest.raises(InputError, match=None) as err:
        fiji_bridge.suggest_contour(image, init, method=kwargs.pop("method", "region_growing"), **kwargs)
    assert words in str(err.value)


# --- crop rule, ranking, existing ROIs --------------------------------------------------------

def test_crop_box_is_init_box_enlarged_by_max_distance_and_clipped():
    init = np.array([[10.5, 20.2], [30.0, 25.7], [12.0, 40.0]])
    assert crop_box(init, (100, 100), 17) == (0, 3, 47, 57)
    assert crop_box(init, (50, 40), 5) == (5, 15, 35, 45)
    assert crop_box(init, (50, 40), 0) == (10, 20, 30, 40)
    win = make_window(init, (100, 100), 17)
    assert win.crop == (0, 3, 47, 57) and win.side == 54 and (win.x0, win.y0) == (-4, 3)


def test_unet_suggestion_from_the_source_region_equals_the_one_from_the_whole_image(dsb_val):
    """What the Suggest Contour command relies on to convert only a small part of a large image."""
    rng = np.random.default_rng(5)
    compared = at_edge = 0
    for image_id in image_ids(dsb_val)[:12]:
        image, labels = load_pair(dsb_val, image_id)
        h, w = labels.shape
        for k in rng.permutation(np.unique(labels)[1:])[:6]:
            kind = ("polygon", "line", "box")[compared % 3]
            init = simulate(kind, labels == k, rng, labels.shape)
            max_distance = float(rng.choice([0, 5, 17, 40]))
            x0, y0, x1, y1 = source_region(init, (h, w), max_distance)
            at_edge += x0 == 0 or y0 == 0 or x1 == w or y1 == h
            try:
                whole = fiji_bridge.suggest_contour(image, init, closed=CLOSED[kind], max_distance=max_distance)
            except InputError:
                continue
            part = fiji_bridge.suggest_contour(image[y0:y1, x0:x1], init - [x0, y0], closed=CLOSED[kind],
                                               max_distance=max_distance) + [x0, y0]
            np.testing.assert_array_equal(part, whole)
            compared += 1
            assert (x1 - x0) * (y1 - y0) <= 9 * make_window(init, (h, w), max_distance).side ** 2
    assert compared >= 50 and at_edge >= 10


def test_source_region_holds_the_mirrored_pixels_past_the_image_edge():
    """A 1-px wide crop at the left edge: the window reaches 20 px past the edge, and its mirror
    image reaches one column past the window's part inside the image."""
    image = np.random.default_rng(2).integers(0, 255, (100, 100)).astype(np.uint8)
    init = np.array([[0.5, 20.0], [0.5, 59.5]])
    win = make_window(init, image.shape, 0)
    assert (win.x0, win.side) == (-20, 40)
    x0, y0, x1, y1 = source_region(init, image.shape, 0)
    part = image[y0:y1, x0:x1]
    shifted = Window(tuple(np.subtract(win.crop, (x0, y0, x0, y0))), win.x0 - x0, win.y0 - y0, win.side)
    np.testing.assert_array_equal(network_input(part, init - [x0, y0], False, shifted),
                                  network_input(image, init, False, win))
    # an init beside the image reads nothing (the API then reports it outside the image)
    assert source_region(np.array([[-50.0, 5.0], [-30.0, 5.0], [-40.0, 20.0]]), image.shape, 17) == (0, 0, 0, 0)


def test_suggestion_stays_inside_the_crop_rule_box():
    image = np.random.default_rng(0).integers(95, 106, (200, 200)).astype(np.uint8)  # one huge object
    init = square(90, 90, 110, 110)
    poly = fiji_bridge.suggest_contour(image, init, method="region_growing", max_distance=6)
    assert poly[:, 0].min() >= 84 and poly[:, 0].max() <= 116
    assert poly[:, 1].min() >= 84 and poly[:, 1].max() <= 116


def test_the_object_pointed_at_wins_over_the_largest_and_existing_rois_are_skipped():
    image, labels = disks(centres=((30, 35), (30, 85)), radius=12)
    image[labels == 2] = 200
    big = (np.hypot(*np.mgrid[:80, :120] - np.array([30, 85])[:, None, None]) <= 20)
    image[big] = 200  # the right object is larger
    labels[big] = 2
    init = square(20, 10, 75, 50)  # covers most of the left disk and the left edge of the right one
    first = mask_of(fiji_bridge.suggest_contour(image, init, method="active_contour"), labels.shape)
    assert iou(first, labels == 1) > 0.9
    second = mask_of(fiji_bridge.suggest_contour(image, init, method="active_contour", candidate=1), labels.shape)
    assert iou(second, labels == 2) > 0.5
    left = fiji_bridge.suggest_contour(image, init, method="active_contour")
    skipped = mask_of(fiji_bridge.suggest_contour(image, init, method="active_contour", existing=[left]), labels.shape)
    assert iou(skipped, labels == 2) > 0.5
    with pytest.raises(InputError, match="no candidate number 3"):
        fiji_bridge.suggest_contour(image, init, method="active_contour", candidate=2)


def test_existing_roi_overlapping_at_most_40_percent_is_not_skipped():
    image, labels = disks(centres=((30, 40),), radius=12)
    init = square(32, 22, 48, 38)
    obj = labels == 1
    ys, xs = np.nonzero(obj)
    cut = np.sort(xs)[int(0.3 * xs.size)]  # an existing ROI covering ~30 % of the object
    existing = [square(0, 0, cut, 80)]
    got = mask_of(fiji_bridge.suggest_contour(image, init, method="region_growing", existing=existing), obj.shape)
    assert np.array_equal(got, obj)
    half = [square(0, 0, np.sort(xs)[int(0.6 * xs.size)], 80)]
    with pytest.raises(InputError, match="already annotated"):
        fiji_bridge.suggest_contour(image, init, method="region_growing", existing=half)


# --- region growing -------------------------------------------------------------------------

def test_region_growing_recovers_a_disk_exactly_from_a_small_init():
    image, labels = disks(centres=((30, 40),), radius=12)
    for init, closed in ((square(34, 24, 46, 36), True), (np.array([[33.0, 30.0], [47.0, 31.0]]), False)):
        got = mask_of(fiji_bridge.suggest_contour(image, init, method="region_growing", closed=closed), labels.shape)
        assert np.array_equal(got, labels == 1)


def test_region_growing_uses_annotatorj_rgb_tolerances():
    image = np.zeros((40, 60, 3), np.uint8)
    image[5:35, 5:55] = (100, 100, 100)
    image[5:35, 30:55, 1] += 90   # green differs by 90 <= 0.4 * 255: same region
    image[5:35, 45:55, 0] += 60   # red differs by 60 > 0.2 * 255: another region
    init = square(10, 10, 20, 30)
    got = mask_of(fiji_bridge.suggest_contour(image, init, method="region_growing", max_distance=60), (40, 60))
    expected = np.zeros((40, 60), bool)
    expected[5:35, 5:45] = True
    assert np.array_equal(got, expected)


def test_region_growing_grey_tolerance_is_a_tenth_of_the_type_range():
    image = np.zeros((40, 60), np.uint16)
    image[5:35, 5:55] = 10000
    image[5:35, 30:55] += 6000    # <= 0.1 * 65535: same region
    image[5:35, 45:55] += 1000    # now 7000 away: another region
    init = square(10, 10, 20, 30)
    got = mask_of(fiji_bridge.suggest_contour(image, init, method="region_growing", max_distance=60), (40, 60))
    assert got[5:35, 5:45].all() and not got[:, 45:].any()


# --- the model ------------------------------------------------------------------------------

def test_missing_weights_give_a_clear_error(tmp_path):
    with pytest.raises(FijiBridgeError, match="weights are missing"):
        unet.load_model(tmp_path / "nope.pt")


@pytest.mark.parametrize("make", [lambda: GuidedUNet(8), lambda: NucleusUNet((8, 16, 32))], ids=["contour", "nucleus"])
def test_folding_batchnorm_keeps_the_outputs(make):
    torch.manual_seed(0)
    model = make()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    model.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        folded = fold_batchnorm(model)(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert torch.allclose(ref, folded, atol=1e-4)


def test_model_loads_once_and_stays_warm():
    model = unet.load_model()
    assert model is unet.load_model()
    image, labels = disks(centres=((40, 60),), radius=14, shape=(80, 120))
    init = square(44, 24, 76, 56)
    win = make_window(init, image.shape, 17)
    x = torch.from_numpy(network_input(image, init, True, win))[None]
    with torch.no_grad():
        prob = torch.sigmoid(model(x))[0, 0].numpy()
    inside = resize(extract(labels, win).astype(np.float32), 64) > 0.5
    assert prob[inside].mean() > 0.8 and prob[~inside].mean() < 0.2


def test_trained_model_beats_the_init_and_region_growing_on_val_objects(dsb_val):
    rng = np.random.default_rng(11)
    scores = {"init": [], "unet": [], "region_growing": []}
    for image_id in image_ids(dsb_val)[::7]:
        image, labels = load_pair(dsb_val, image_id)
        values, counts = np.unique(labels[labels > 0], return_counts=True)
        for k in rng.choice(values[counts >= 20], size=3, replace=False):
            gt = labels == k
            init = simulate("polygon", gt, rng, labels.shape)
            scores["init"].append(iou(mask_of(init, gt.shape), gt))
            for method in ("unet", "region_growing"):
                try:
                    got = mask_of(fiji_bridge.suggest_contour(image, init, method=method), gt.shape)
                except InputError:
                    got = np.zeros_like(gt)
                scores[method].append(iou(got, gt))
    mean = {k: float(np.mean(v)) for k, v in scores.items()}
    assert mean["unet"] >= 0.8, mean
    assert mean["unet"] >= mean["init"] + 0.1, mean
    assert mean["unet"] >= mean["region_growing"] + 0.1, mean


def test_candidates_are_ranked_and_distinct(val_image):
    rgb, labels = val_image
    k = int(np.bincount(labels.ravel())[1:].argmax()) + 1
    init = simulate("box", labels == k, np.random.default_rng(1), labels.shape)
    cands = suggest_candidates(rgb, init, closed=CLOSED["box"])
    assert cands
    masks = [mask_of(c, labels.shape) for c in cands]
    assert iou(masks[0], labels == k) > 0.6
    for a, b in zip(masks, masks[1:]):
        assert iou(a, b) < 0.5


# --- odd but possible input (audit) -----------------------------------------------------------

def test_region_growing_float_tolerance_ignores_nan_and_inf_outside_the_crop():
    """The float 'max' is the span of the finite values: one bad pixel far away changes nothing,
    one inside the crop is still refused."""
    image, labels = disks(centres=((30, 40),), radius=12)
    noisy = np.where(labels > 0, 200 + np.random.default_rng(4).uniform(-8, 8, labels.shape), 20.0)
    init = square(34, 24, 46, 36)
    clean = fiji_bridge.suggest_contour(noisy, init, method="region_growing")
    assert np.array_equal(mask_of(clean, labels.shape), labels == 1)
    for bad in (np.nan, np.inf, -np.inf):
        dirty = noisy.copy()
        dirty[-1, -1] = bad  # far outside the crop
        np.testing.assert_array_equal(fiji_bridge.suggest_contour(dirty, init, method="region_growing"), clean)
        dirty[30, 30] = bad  # inside the crop
        with pytest.raises(InputError, match="NaN or infinite"):
            fiji_bridge.suggest_contour(dirty, init, method="region_growing")


def test_nan_in_the_network_window_outside_the_crop_does_not_break_the_unet():
    """A wide, short line: the square window reads rows above the crop; a NaN there is replaced
    by its nearest finite neighbour, not spread over the whole network input."""
    image, _ = disks(shape=(120, 120), centres=((90, 40),), radius=10)
    grey = image.astype(np.float32)
    line = np.array([[25.0, 90.5], [100.0, 90.5]])
    win = make_window(line, grey.shape, 5)
    x0, y0, _, _ = win.crop
    assert win.y0 < y0
    dirty = grey.copy()
    dirty[win.y0, x0] = np.nan
    assert np.isfinite(network_input(dirty, line, False, win)).all()
    clean = fiji_bridge.suggest_contour(grey, line, closed=False, max_distance=5)
    np.testing.assert_array_equal(fiji_bridge.suggest_contour(dirty, line, closed=False, max_distance=5), clean)


@pytest.mark.parametrize("kwargs, words", [
    ({"candidate": -1}, "candidate must be a whole number"),
    ({"candidate": -2}, "candidate must be a whole number"),
    ({"candidate": 1.0}, "candidate must be a whole number"),
    ({"candidate": "1"}, "candidate must be a whole number"),
    ({"max_distance": "17"}, "max_distance must be a number"),
    ({"max_distance": None}, "max_distance must be a number"),
    ({"existing": [np.arange(7.0)]}, "existing polygon 0 must be a (K, 2) array"),
    ({"existing": [square(0, 0, 5, 5), np.zeros((4, 3))]}, "existing polygon 1 must be a (K, 2) array"),
    ({"existing": [Annotation(np.array([[0, 0], [5, 5]]), roi_type="line")]}, "existing ROI 0 (line) is a line"),
    ({"existing": [square(0, 0, np.nan, 5)]}, "not finite"),
    ({"existing": square(0, 0, 5, 5)}, "(M, K, 2) array"),
    ({"existing": 3}, "existing must be a list"),
])
def test_bad_argument_values_raise_a_clear_input_error(kwargs, words):
    with pytest.raises(InputError) as err:
        fiji_bridge.suggest_contour(GOOD_IMAGE, GOOD_INIT, method="region_growing", **kwargs)
    assert words in str(err.value)
    if "candidate" in kwargs:
        with pytest.raises(InputError, match="limit must be a whole number"):
            suggest_candidates(GOOD_IMAGE, GOOD_INIT, method="region_growing", limit=kwargs["candidate"])


def test_existing_polygons_may_come_as_one_m_k_2_array():
    image, labels = disks(centres=((30, 40),), radius=12)
    init = square(34, 24, 46, 36)
    far = square(100, 60, 110, 70)
    got = fiji_bridge.suggest_contour(image, init, method="region_growing", existing=far[None])
    assert np.array_equal(mask_of(got, labels.shape), labels == 1)
    with pytest.raises(InputError, match="already annotated"):
        fiji_bridge.suggest_contour(image, init, method="region_growing", existing=np.stack([far, square(26, 16, 54, 44)]))


def test_existing_roi_with_a_hole_leaves_the_object_in_the_hole_free():
    yy, xx = np.mgrid[:120, :120]
    radius = np.hypot(yy - 60, xx - 60)
    truth = np.zeros((120, 120), np.uint8)
    truth[(radius >= 30) & (radius < 40)] = 1  # an annotated ring
    truth[radius < 10] = 2  # a nucleus in its hole
    image = np.clip(ndi.gaussian_filter((truth > 0) * 200.0, 1) + 10, 0, 255).astype(np.uint8)
    [ring] = labels_to_annotations(truth == 1)
    assert ring.roi_type == "composite"
    init = square(54, 54, 66, 66)
    alone = fiji_bridge.suggest_contour(image, init, method="region_growing")
    assert mask_of(alone, truth.shape)[truth == 2].mean() > 0.7 and not mask_of(alone, truth.shape)[truth != 2].any()
    np.testing.assert_array_equal(fiji_bridge.suggest_contour(image, init, method="region_growing", existing=[ring]), alone)
    with pytest.raises(InputError, match="already annotated"):  # its outlines as filled polygons cover the hole
        fiji_bridge.suggest_contour(image, init, method="region_growing", existing=list(ring.paths))


def test_max_distance_0_keeps_the_column_a_line_on_a_pixel_edge_lies_in():
    """A vertical line at integer x lies in column x (stroke rule), so the crop keeps that column;
    active_contour on a 1-px crop says what to change instead of failing inside scikit-image."""
    image, labels = disks(centres=((30, 40),), radius=12)
    line = np.array([[40.0, 10.0], [40.0, 38.0]])  # from the background into the disk
    got = mask_of(fiji_bridge.suggest_contour(image, line, closed=False, method="region_growing", max_distance=0),
                  labels.shape)
    expected = np.zeros(labels.shape, bool)
    expected[10:39, 40] = True
    assert np.array_equal(got, expected)
    assert crop_box(line, labels.shape, 0, closed=False) == (40, 10, 41, 39)
    for x in (40.0, 40.5):
        with pytest.raises(InputError, match="increase max_distance"):
            fiji_bridge.suggest_contour(image, line + [x - 40, 0], closed=False, method="active_contour",
                                        max_distance=0)


@pytest.mark.parametrize("centre, line", [((30, 4), [[0.0, 22.0], [0.0, 38.0]]), ((4, 60), [[52.0, 0.0], [68.0, 0.0]])],
                         ids=["left column", "top row"])
def test_a_line_on_the_first_column_or_row_is_inside_the_image(centre, line):
    image, labels = disks(centres=(centre,), radius=12)
    got = fiji_bridge.suggest_contour(image, np.array(line), closed=False, method="region_growing")
    assert np.array_equal(mask_of(got, labels.shape), labels == 1)
    with pytest.raises(InputError, match="outside the image"):  # an area there covers no pixel
        fiji_bridge.suggest_contour(image, np.array(line + line[::-1]) - [[0, 0], [0, 0], [1, 1], [1, 1]],
                                    method="region_growing")


def test_pieces_cut_by_the_search_region_are_not_candidates():
    mask = np.zeros((30, 30), bool)
    mask[10:20, 10:20] = True  # the object the init points at
    mask[2:6, 0:5] = True  # part of an object that goes on past the crop's left side
    mask[22:27, 20:25] = True  # a whole object inside the crop
    init = np.zeros_like(mask)
    init[12:18, 12:18] = True
    kept = list(ranked_components(mask, init, cut=(True, False, False, False)))
    assert [int(m.sum()) for m in kept] == [100, 25]
    at_image_edge = list(ranked_components(mask, init, cut=(False,) * 4))  # the crop ends where the image does
    assert [int(m.sum()) for m in at_image_edge] == [100, 25, 20]
    init[2:6, 0:5] = True  # a piece the init touches stays, cut or not
    assert len(list(ranked_components(mask, init, cut=(True,) * 4))) == 3

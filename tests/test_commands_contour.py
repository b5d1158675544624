"""Plugins > Fiji Bridge > Suggest Contour / Accept Contour / Next Candidate in real ImageJ (Xvfb)."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile

import fiji_bridge

from fiji_bridge.contour.data import image_ids, load_pair
from fiji_bridge.ij.images import numpy_to_imageplus
from fiji_bridge.ij.rois import roi_to_annotation, rois_to_manager
from fiji_bridge.rois.labels import annotation_mask, labels_to_annotations
from fiji_bridge.runtime.macro import MacroError

pytestmark = pytest.mark.imagej


@pytest.fixture(scope="module")
def sample(dsb_val):
    """A val image (RGB uint8), its labels and the label of a mid-sized object away from the border."""
    image, labels = load_pair(dsb_val, image_ids(dsb_val)[0])
    values, counts = np.unique(labels[labels > 0], return_counts=True)
    for k in values[np.argsort(-counts)]:
        ys, xs = np.nonzero(labels == k)
        if xs.min() > 20 and ys.min() > 20 and xs.max() < labels.shape[1] - 20 and ys.max() < labels.shape[0] - 20:
            return image, labels, int(k)
    raise AssertionError("no object away from the border")


def show(array: np.ndarray, title: str, dims=None):
    imp = numpy_to_imageplus(array, dims=dims, title=title)
    imp.show()
    return imp


def selection_mask(imp) -> np.ndarray:
    return annotation_mask(roi_to_annotation(imp.getRoi()), (imp.getHeight(), imp.getWidth()))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def box_of(mask: np.ndarray, margin: int = 3) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return xs.min() - margin, ys.min() - margin, xs.max() - xs.min() + 1 + 2 * margin, ys.max() - ys.min() + 1 + 2 * margin


def manager_names(bridge) -> list[str]:
    manager = bridge.RoiManager.getInstance()
    return [] if manager is None else [str(r.getName()) for r in manager.getRoisAsArray()]


@pytest.mark.parametrize("kind", ["8-bit", "16-bit", "RGB", "32-bit"])
def test_suggest_contour_replaces_the_selection_on_each_image_type(clean_ij, sample, kind):
    image, labels, k = sample
    grey = image[..., 0]
    data = {"8-bit": grey, "16-bit": grey.astype(np.uint16) * 200, "RGB": image,
            "32-bit": grey.astype(np.float32) / 7}[kind]
    imp = show(data, f"contour-{kind}")
    gt = labels == k
    clean_ij.run_macro("makeOval(%d, %d, %d, %d);" % box_of(gt))
    clean_ij.run_macro('run("Suggest Contour", "method=unet max_distance=17");')
    assert str(imp.getRoi().getTypeAsString()) == "Traced"
    assert iou(selection_mask(imp), gt) > 0.75
    assert manager_names(clean_ij) == []


def test_stack_slice_and_add_keep_position_and_group(clean_ij, sample):
    image, labels, k = sample
    stack = np.zeros((3, *labels.shape), np.uint8)
    stack[1] = image[..., 0]
    stack[0] = 255 - image[..., 0]   # other slices hold different content
    imp = show(stack, "contour-stack", dims=("z", "y", "x"))
    imp.setSlice(2)
    gt = labels == k
    clean_ij.run_macro("makeOval(%d, %d, %d, %d); Roi.setGroup(3);" % box_of(gt))
    clean_ij.run_macro('run("Suggest Contour", "method=unet max_distance=17 add");')
    rois = clean_ij.RoiManager.getInstance().getRoisAsArray()
    assert [str(r.getName()) for r in rois] == ["0001"]
    assert rois[0].getPosition() == 2 and rois[0].getGroup() == 3
    ann = roi_to_annotation(rois[0])
    assert iou(annotation_mask(ann, labels.shape), gt) > 0.75


def test_large_image_and_full_roi_manager_give_the_api_result(clean_ij, sample):
    """The command reads only the part of the image and the ROIs near the selection; the result
    must be the API's on the whole image with every ROI as existing (here the object itself is
    annotated already, so another candidate is chosen)."""
    image, labels, k = sample
    mosaic = np.tile(image, (3, 3, 1))  # RGB, the sample object appears 9 times
    h, w = labels.shape
    imp = show(mosaic, "contour-mosaic")
    gt = np.tile(labels == k, (3, 3))[h:2 * h, w:2 * w]
    x, y, bw, bh = box_of(gt)
    far = [f"makeRectangle({2 * w + 5 + i % 40}, {2 * h + 5 + i // 40}, 6, 6); roiManager(\"add\");" for i in range(400)]
    clean_ij.run_macro(" ".join(far))
    annotated = labels_to_annotations((labels == k).astype(np.uint16))[0]
    annotated.polygon = annotated.polygon + [w, h]
    init = np.array([[x, y], [x + bw, y], [x + bw, y + bh], [x, y + bh]], float) + [w, h]
    clean_ij.run_macro("makeRectangle(%d, %d, %d, %d);" % (x + w, y + h, bw, bh))
    clean_ij.run_macro('run("Suggest Contour", "method=unet max_distance=17");')
    far_rois = [roi_to_annotation(r) for r in clean_ij.RoiManager.getInstance().getRoisAsArray()]
    expected = fiji_bridge.suggest_contour(mosaic, init, existing=far_rois)
    np.testing.assert_array_equal(roi_to_annotation(imp.getRoi()).polygon, expected)
    assert iou(selection_mask(imp)[h:2 * h, w:2 * w], gt) > 0.75
    # the object is annotated already in the centre tile: the other objects in reach are cut
    # by the search region, so the API and the command both find none and the selection stays
    rois_to_manager(clean_ij, [annotated])
    with pytest.raises(fiji_bridge.errors.InputError, match="no object found") as api_error:
        fiji_bridge.suggest_contour(mosaic, init, existing=[*far_rois, annotated])
    clean_ij.run_macro("makeRectangle(%d, %d, %d, %d);" % (x + w, y + h, bw, bh))
    before = _snapshot(clean_ij, imp)
    with pytest.raises(MacroError, match=str(api_error.value).split(";")[0]):
        clean_ij.run_macro('run("Suggest Contour", "method=unet max_distance=17");')
    assert _snapshot(clean_ij, imp) == before


@pytest.mark.parametrize("selection", [
    "makeRectangle({x}, {y}, {w}, {h});",
    "makePolygon({x}, {y}, {x2}, {y}, {x2}, {y2}, {x}, {y2});",
    'makeSelection("freehand", newArray({x}, {cx}, {x2}, {cx}), newArray({cy}, {y}, {cy}, {y2}));',
    'makeSelection("traced", newArray({x}, {x2}, {x2}, {x}), newArray({y}, {y}, {y2}, {y2}));',
    "makeLine({ax}, {ay}, {bx}, {by});",
    'makeSelection("polyline", newArray({ax}, {mx}, {bx}), newArray({ay}, {my}, {by}));',
    'makeSelection("freeline", newArray({ax}, {mx}, {bx}), newArray({ay}, {my}, {by}));',
])
def test_every_outline_and_line_selection_points_at_the_object(clean_ij, sample, selection):
    image, labels, k = sample
    imp = show(image, "contour-rgb")
    gt = labels == k
    x, y, w, h = box_of(gt)
    ys, xs = np.nonzero(gt)
    cx, cy = int(xs.mean()), int(ys.mean())
    # lines run along the object's longer side over 2/3 of it (the crop rule must reach its ends)
    tall = h > w
    half = (h if tall else w) // 3
    ax, ay, bx, by = (cx, cy - half, cx, cy + half) if tall else (cx - half, cy, cx + half, cy)
    clean_ij.run_macro(selection.format(x=x, y=y, w=w, h=h, x2=x + w, y2=y + h, cx=cx, cy=cy, ax=ax, ay=ay,
                                        bx=bx, by=by, mx=cx + (not tall), my=cy + tall))
    clean_ij.run_macro('run("Suggest Contour", "method=unet max_distance=17");')
    assert iou(selection_mask(imp), gt) > 0.7


def test_macro_replay_and_accept(clean_ij, sample):
    image, labels, k = sample
    show(image[..., 0], "contour-replay")
    gt = labels == k
    others = [v for v in np.unique(labels) if v not in (0, k)]
    gt2 = labels == others[len(others) // 2]
    clean_ij.run_macro("""
        makeOval(%d, %d, %d, %d);
        run("Suggest Contour", "method=unet max_distance=17 add");
        makeOval(%d, %d, %d, %d);
        run("Suggest Contour", "method=region_growing max_distance=17");
        run("Accept Contour");
    """ % (*box_of(gt), *box_of(gt2)))
    rois = clean_ij.RoiManager.getInstance().getRoisAsArray()
    assert [str(r.getName()) for r in rois] == ["0001", "0002"]
    assert iou(annotation_mask(roi_to_annotation(rois[0]), labels.shape), gt) > 0.75
    assert (annotation_mask(roi_to_annotation(rois[1]), labels.shape) & gt2).any()
    # Next Candidate replayed from macros: test_next_candidate_after_add_replaces_the_added_entry


def _snapshot(bridge, imp):
    roi = imp.getRoi()
    sel = None if roi is None else (str(roi.getTypeAsString()), roi_to_annotation(roi).polygon.tolist())
    return sel, manager_names(bridge)


@pytest.mark.parametrize("case, setup, words", [
    ("no selection", "run(\"Select None\");", "needs a selection"),
    ("point", "makePoint(40, 40);", "not a point"),
    ("outside", "makePolygon(-40, -40, -10, -40, -10, -10);", "outside the image"),
    ("one pixel", "makeRectangle(40, 40, 1, 1);", "too small"),
    ("composite", "makeRectangle(30, 30, 20, 15); setKeyDown(\"shift\"); makeOval(60, 60, 10, 10); setKeyDown(\"none\");",
     "composite selection"),
    ("all zeros", "makeRectangle(30, 30, 20, 20);", "all zeros"),
    ("NaN", "makeRectangle(30, 30, 20, 20);", "NaN"),
])
def test_bad_input_gives_a_clear_message_and_changes_nothing(clean_ij, sample, case, setup, words):
    image, labels, k = sample
    if case == "all zeros":
        data = np.zeros((100, 100), np.uint8)
    elif case == "NaN":
        data = np.full((100, 100), np.nan, np.float32)
        data[:20] = 5.0
    else:
        data = image[..., 0]
    imp = show(data, f"contour-bad-{case.replace(' ', '-')}")
    clean_ij.run_macro('makeRectangle(2, 2, 5, 5); roiManager("add");')
    clean_ij.run_macro(setup)
    before = _snapshot(clean_ij, imp)
    with pytest.raises(MacroError, match=words):
        clean_ij.run_macro('run("Suggest Contour", "method=unet max_distance=17 add");')
    assert _snapshot(clean_ij, imp) == before


@pytest.mark.parametrize("options, words", [
    ("method=foo max_distance=17", "method='foo' is not one of: unet, region_growing, active_contour"),
    ("method=unet max_distance=abc", "max_distance must be a number"),
])
def test_macro_options_are_read_without_a_dialog_and_checked(clean_ij, sample, options, words):
    """A macro call skips the GenericDialog (which would stop on max_distance=abc with its own
    "numeric value" error) and fiji_bridge checks the options with its own words."""
    image, labels, k = sample
    imp = show(image, "contour-options")
    clean_ij.run_macro("makeOval(%d, %d, %d, %d);" % box_of(labels == k))
    before = _snapshot(clean_ij, imp)
    with pytest.raises(MacroError, match=words):
        clean_ij.run_macro(f'run("Suggest Contour", "{options}");')
    assert _snapshot(clean_ij, imp) == before
    clean_ij.run_macro('run("Suggest Contour", "method=[region_growing] max_distance=10 add");')
    assert manager_names(clean_ij) == ["0001"]


def test_next_candidate_without_a_suggestion_and_accept_without_selection(clean_ij, sample):
    image, _, _ = sample
    show(image[..., 0], "contour-fresh")
    with pytest.raises(MacroError, match="run Suggest Contour first"):
        clean_ij.run_macro('run("Next Candidate");')
    clean_ij.run_macro('run("Select None");')
    with pytest.raises(MacroError, match="needs a selection"):
        clean_ij.run_macro('run("Accept Contour");')
    assert manager_names(clean_ij) == []


@pytest.fixture()
def clump(clean_ij, dsb_val):
    """A val image where a box over a nucleus also holds pieces of its neighbours."""
    (name,) = [i for i in image_ids(dsb_val) if i.startswith("0bda515e3702")]
    image, labels = load_pair(dsb_val, name)
    return show(image[..., 0], "contour-clump"), labels


def _bounds_of(roi) -> tuple[int, int, int, int]:
    r = roi.getBounds()
    return int(r.x), int(r.y), int(r.width), int(r.height)


def _bounds(imp) -> tuple[int, int, int, int]:
    return _bounds_of(imp.getRoi())


def test_next_candidate_after_add_replaces_the_added_entry(clean_ij, clump):
    imp, labels = clump
    clean_ij.run_macro('makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17");'
                       'run("Next Candidate");')
    second = _bounds(imp)
    clean_ij.run_macro('makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17 add");')
    first = _bounds(imp)
    clean_ij.run_macro('run("Next Candidate");')
    assert _bounds(imp) == second != first  # the same second-ranked object as without "add"
    [roi] = clean_ij.RoiManager.getInstance().getRoisAsArray()
    assert str(roi.getName()) == "0001" and _bounds_of(roi) == second


def test_an_added_suggestion_can_be_refined(clean_ij, clump):
    imp, labels = clump
    clean_ij.run_macro('makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17 add");')
    suggestion = selection_mask(imp)
    clean_ij.run_macro('run("Suggest Contour", "method=active_contour max_distance=17");')
    assert iou(selection_mask(imp), suggestion) > 0.6


def test_names_continue_above_the_highest_number(clean_ij, clump):
    imp, labels = clump
    clean_ij.run_macro('makeRectangle(5, 5, 6, 6); roiManager("add"); roiManager("select", 0); roiManager("rename", "0007");'
                       'makeRectangle(20, 5, 6, 6); roiManager("add"); roiManager("select", 1); roiManager("rename", "0002");'
                       'makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17 add");'
                       'makeRectangle(60, 60, 10, 10); run("Accept Contour");')
    assert manager_names(clean_ij) == ["0007", "0002", "0008", "0009"]


def test_an_roi_added_on_another_slice_the_imagej_way_is_not_existing(clean_ij, dsb_val):
    (name,) = [i for i in image_ids(dsb_val) if i.startswith("0bda515e3702")]
    image, labels = load_pair(dsb_val, name)
    imp = show(np.stack([image[..., 0], image[..., 0]]), "contour-twice", dims=("z", "y", "x"))
    clean_ij.run_macro('makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17");')
    alone = _bounds(imp)
    clean_ij.run_macro('setSlice(2); makeOval(139, 82, 19, 13); roiManager("add"); setSlice(1);'
                       'makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17");')
    assert _bounds(imp) == alone


def test_hyperstack_channels_are_one_plane_for_positions_existing_and_export(clean_ij, dsb_val, tmp_path):
    (name,) = [i for i in image_ids(dsb_val) if i.startswith("0bda515e3702")]
    image, labels = load_pair(dsb_val, name)
    grey = image[..., 0]
    imp = show(np.stack([np.stack([grey, grey // 2, grey // 3])] * 2), "hs", dims=("z", "c", "y", "x"))
    clean_ij.run_macro('Stack.setPosition(2, 2, 1); makeRectangle(138, 81, 21, 15);'
                       'run("Suggest Contour", "method=unet max_distance=17 add");')
    first = _bounds(imp)
    clean_ij.run_macro('Stack.setPosition(3, 2, 1); makeRectangle(138, 81, 21, 15);'
                       'run("Suggest Contour", "method=unet max_distance=17 add");')
    assert _bounds(imp) != first  # the object annotated on channel 2 of this plane is taken
    # on every channel of the plane, as ImageJ's own "Add to Manager" puts them: (c, z, t) = (0, 2, 1)
    assert [(int(r.getCPosition()), int(r.getZPosition()), int(r.getTPosition()), int(r.getPosition()))
            for r in clean_ij.RoiManager.getInstance().getRoisAsArray()] == [(0, 2, 1, 0)] * 2
    clean_ij.run_macro(f'Stack.setPosition(1, 1, 1); makeRectangle(10, 10, 20, 20); roiManager("add");'
                       f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label");')
    written = sorted(p.name for p in (tmp_path / "out" / "labelled_masks").iterdir())
    assert written == ["hs-0001.tiff", "hs-0002.tiff"]  # (z, t) planes 1 and 2, not stack indices
    assert tifffile.imread(tmp_path / "out" / "labelled_masks" / "hs-0002.tiff").max() == 2


def test_next_candidate_leaves_an_roi_that_took_a_deleted_suggestions_name(clean_ij, clump):
    """The added suggestion is deleted and the person accepts another object, which gets the
    freed name 0001 (the ROI Manager was empty): Next Candidate must not replace that ROI."""
    imp, labels = clump
    clean_ij.run_macro('makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17 add");'
                       'roiManager("select", 0); roiManager("delete");'
                       'makeOval(60, 60, 10, 10); run("Accept Contour"); run("Select None");')
    manager = clean_ij.RoiManager.getInstance()
    assert manager_names(clean_ij) == ["0001"] and _bounds_of(manager.getRoi(0)) == (60, 60, 10, 10)
    clean_ij.run_macro('run("Next Candidate");')
    assert manager_names(clean_ij) == ["0001"] and _bounds_of(manager.getRoi(0)) == (60, 60, 10, 10)
    assert _bounds(imp) != (60, 60, 10, 10)


def test_a_deleted_name_is_not_given_again_while_the_manager_holds_rois(clean_ij, clump):
    clean_ij.run_macro('makeOval(10, 10, 8, 8); run("Accept Contour"); makeOval(30, 10, 8, 8); run("Accept Contour");'
                       'roiManager("select", 1); roiManager("delete"); makeOval(50, 10, 8, 8); run("Accept Contour");')
    assert manager_names(clean_ij) == ["0001", "0003"]


def test_next_candidate_keeps_an_added_suggestion_the_person_changed(clean_ij, clump):
    imp, labels = clump
    clean_ij.run_macro('makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17 add");'
                       'roiManager("select", 0); makeOval(60, 60, 10, 10); roiManager("update"); run("Select None");')
    manager = clean_ij.RoiManager.getInstance()
    edited = _bounds_of(manager.getRoi(0))
    assert edited == (60, 60, 10, 10)
    clean_ij.run_macro('run("Next Candidate");')
    assert manager_names(clean_ij) == ["0001"] and _bounds_of(manager.getRoi(0)) == edited


def test_next_candidate_after_a_failed_suggestion_or_a_new_selection_changes_nothing(clean_ij, clump):
    imp, labels = clump
    clean_ij.run_macro('makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17");')
    clean_ij.run_macro('makeRectangle(60, 60, 12, 12);')
    with pytest.raises(MacroError, match="selection has changed"):
        clean_ij.run_macro('run("Next Candidate");')
    assert _bounds(imp) == (60, 60, 12, 12)
    with pytest.raises(MacroError, match="too small"):
        clean_ij.run_macro('makeRectangle(150, 150, 1, 1); run("Suggest Contour", "method=unet");')
    with pytest.raises(MacroError, match="run Suggest Contour first"):
        clean_ij.run_macro('run("Next Candidate");')
    assert _bounds(imp) == (150, 150, 1, 1)


def test_refining_an_added_suggestion_with_add_replaces_its_entry(clean_ij, clump):
    imp, labels = clump
    clean_ij.run_macro('makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17 add");'
                       'run("Suggest Contour", "method=active_contour max_distance=17 add");')
    refined = selection_mask(imp)
    [roi] = clean_ij.RoiManager.getInstance().getRoisAsArray()
    assert str(roi.getName()) == "0001"
    assert np.array_equal(annotation_mask(roi_to_annotation(roi), labels.shape), refined)


def test_accept_contour_run_several_times_at_once_adds_the_selection_once(clean_ij, clump):
    """Menu commands and shortcuts run on their own threads: quick presses must neither share a
    name nor add the same outline twice."""
    import time
    clean_ij.run_macro('makeOval(20, 20, 20, 20); run("Accept Contour"); makeOval(60, 60, 20, 20);')
    for _ in range(4):
        clean_ij.IJ.doCommand("Accept Contour")
    manager = clean_ij.RoiManager.getInstance()
    deadline = time.monotonic() + 20
    while manager.getCount() < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # the other presses finish
    assert manager_names(clean_ij) == ["0001", "0002"]
    assert [_bounds_of(r) for r in manager.getRoisAsArray()] == [(20, 20, 20, 20), (60, 60, 20, 20)]


def test_accept_after_suggest_with_add_does_not_add_it_again(clean_ij, clump):
    clean_ij.run_macro('makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17 add");'
                       'run("Accept Contour");')
    assert manager_names(clean_ij) == ["0001"]


def test_refining_with_add_replaces_the_entry_of_its_own_slice(clean_ij, dsb_val):
    """Labels to ROIs gives each slice its own 0001, 0002 ...: the entry refined is the one on the
    displayed slice, found by its outline, not the first of that name."""
    (name,) = [i for i in image_ids(dsb_val) if i.startswith("0bda515e3702")]
    image, labels = load_pair(dsb_val, name)
    imp = show(np.stack([labels, labels]).astype(np.uint16), "two-label-slices", dims=("z", "y", "x"))
    clean_ij.run_macro('run("Labels to ROIs", "slices=all clear");')
    manager = clean_ij.RoiManager.getInstance()
    count = int(manager.getCount())
    show(np.stack([image[..., 0], image[..., 0]]), "two-slices", dims=("z", "y", "x"))
    clean_ij.run_macro('setSlice(2); roiManager("select", %d); run("Suggest Contour", "method=unet max_distance=17 add");'
                       % (count // 2 + 5))
    assert int(manager.getCount()) == count
    refined = roi_to_annotation(clean_ij.WindowManager.getCurrentImage().getRoi()).polygon
    entry = manager.getRoi(count // 2 + 5)
    assert np.array_equal(roi_to_annotation(entry).polygon, refined) and int(entry.getPosition()) == 2


def test_next_candidate_pressed_twice_at_once_never_gives_the_same_candidate_twice(clean_ij, clump):
    import threading
    from jpype import JClass
    clean_ij.run_macro('makeRectangle(138, 81, 21, 15); run("Suggest Contour", "method=unet max_distance=17 add");')
    service = JClass("java.lang.System").getProperties().get("fiji_bridge.service")
    results = []

    def press() -> None:
        request = JClass("java.util.ArrayList")()
        request.add("next_candidate")
        results.append(service.apply(request))

    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = sorted(int(r.get("value").get("candidate")) for r in results if r.get("ok"))
    refused = [str(r.get("error")) for r in results if not r.get("ok")]
    assert done in ([2], [2, 3]) and all("still running" in e for e in refused)
    assert manager_names(clean_ij) == ["0001"]

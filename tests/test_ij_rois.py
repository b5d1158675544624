"""Annotation <-> ij.gui.Roi, ROI Manager, overlays and RoiSet.zip exchange with real ImageJ 1.x."""
from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
import tifffile

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.ij import rois
from fiji_bridge.ij.images import imageplus_to_numpy, numpy_to_imageplus
from fiji_bridge.rois.labels import labels_to_annotations
from fiji_bridge.rois.roiset import oval_outline, read_roiset, write_roiset

pytestmark = pytest.mark.imagej


def every_type() -> list[Annotation]:
    """One annotation of each ROI type, with names, groups, positions and colours."""
    return [
        Annotation([[1, 1], [5, 1], [5, 4], [1, 4]], name="rect", roi_type="rectangle", group=3, position=2,
                   stroke_color="#ff0000"),
        Annotation(oval_outline(10, 10, 7, 5), name="oval", roi_type="oval", stroke_color="#80112233"),
        Annotation([[0.5, 0.5], [10.25, 3], [4, 9]], name="poly", roi_type="polygon", group=255),
        Annotation([[0, 0], [3, 0], [3, 3], [0, 3]], name="traced", roi_type="traced", position=7),
        Annotation([[0, 0], [3, 1], [2, 3]], name="free", roi_type="freehand"),
        Annotation([[1.5, 2.5], [7.5, 9.5]], name="line", roi_type="line", group=1),
        Annotation([[1, 2], [7, 9], [3, 3]], name="polyline", roi_type="polyline"),
        Annotation([[1, 2], [7, 9], [3, 3]], name="freeline", roi_type="freeline"),
        Annotation([[1, 2], [7, 9]], name="points", roi_type="point", position=3),
        Annotation([[0, 0], [6, 0], [6, 6], [0, 6]], name="composite", roi_type="composite", position=5,
                   subpaths=([[2, 2], [4, 2], [4, 4], [2, 4]], [[10, 10], [12, 10], [12, 12], [10, 12]])),
    ]


def group_colour(group: int) -> str:
    """The stroke colour ImageJ gives a ROI of this group (what RoiDecoder shows for an uncoloured one)."""
    from jpype import JClass

    roi = JClass("ij.gui.Roi")(0, 0, 1, 1)
    roi.setGroup(group)
    return f"#{roi.getStrokeColor().getRGB() & 0xFFFFFF:06x}"


def assert_same(got: list[Annotation], expected: list[Annotation], atol: float = 0.0,
                group_colours: bool = False) -> None:
    """Equal fields and outlines; with ``group_colours`` a grouped ROI shows its group's colour (as
    ImageJ's RoiDecoder does: setGroup after the stroke colour)."""
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        colour = group_colour(b.group) if group_colours and b.group else b.stroke_color
        assert (a.roi_type, a.name, a.group, a.position, a.stroke_color) == \
               (b.roi_type, b.name, b.group, b.position, colour), b.name
        assert len(a.paths) == len(b.paths), b.name
        for p, q in zip(a.paths, b.paths):
            np.testing.assert_allclose(p, q, atol=atol, rtol=0, err_msg=b.name)


@pytest.fixture(params=["java helper", "pure JPype"])
def conversion_path(request, bridge) -> Iterator[str]:
    """Run a test through the RoiBridge Java helper and through the per-ROI JPype fallback."""
    saved = list(rois._helper_cache)
    helper = rois.java_helper()
    assert helper is not None, "the RoiBridge helper should be compiled by fiji-bridge install"
    rois._helper_cache[:] = [helper if request.param == "java helper" else None]
    yield request.param
    rois._helper_cache[:] = saved


def test_every_roi_type_round_trips(conversion_path):
    anns = every_type()
    java = rois.annotations_to_rois(anns)
    assert [int(r.getType()) for r in java] == [rois.TYPE_CODES[a.roi_type] for a in anns]
    assert [str(r.getName()) for r in java] == [a.name for a in anns]
    assert [int(r.getGroup()) for r in java] == [a.group for a in anns]
    assert [int(r.getPosition()) for r in java] == [a.position for a in anns]
    assert java[0].getStrokeColor().getRGB() & 0xFFFFFFFF == 0xFFFF0000
    assert java[2].getStrokeColor() is None  # a group alone does not invent a colour
    assert_same(rois.rois_to_annotations(java), anns)
    assert_same([rois.roi_to_annotation(r) for r in java], anns)


def test_rois_fill_exactly_the_label_pixels_in_imagej(bridge, dsb_val):
    """Label image -> ROIs -> ImageJ's own fill is pixel-identical, on every DSB2018 val mask."""
    from jpype import JClass

    ShortProcessor = JClass("ij.process.ShortProcessor")
    masks = sorted((dsb_val / "masks").glob("*.tif"))
    assert len(masks) == 56
    composites = 0
    for path in masks:
        labels = tifffile.imread(path)
        anns = labels_to_annotations(labels)
        composites += sum(a.roi_type == "composite" for a in anns)
        ip = ShortProcessor(labels.shape[1], labels.shape[0])
        for ann, roi in zip(anns, rois.annotations_to_rois(anns)):
            ip.setValue(float(int(ann.name)))
            ip.fill(roi)
        np.testing.assert_array_equal(np.asarray(ip.getPixels()).view(np.uint16).reshape(labels.shape), labels,
                                      err_msg=path.name)
    assert composites > 0  # objects with holes or several pieces were part of the check


def test_roi_manager_round_trip(clean_ij, conversion_path):
    anns = every_type()
    assert rois.rois_to_manager(clean_ij, anns[:4], clear=True) == 4
    assert rois.rois_to_manager(clean_ij, anns[4:]) == len(anns)
    manager = clean_ij.RoiManager.getInstance()
    assert [str(manager.getName(i)) for i in range(manager.getCount())] == [a.name for a in anns]
    assert_same(rois.rois_from_manager(clean_ij), anns)
    assert rois.rois_to_manager(clean_ij, anns[:1], clear=True) == 1


def test_manager_areas_meeting_a_box_on_a_slice(clean_ij, conversion_path):
    square = lambda x, y: np.array([[x, y], [x + 10, y], [x + 10, y + 10], [x, y + 10]], float)
    anns = [Annotation(square(0, 0), name="left"),
            Annotation(square(50.5, 50.5), name="sub-pixel, touches the box edge"),
            Annotation(square(40, 40), name="other slice", position=3),
            Annotation(square(40, 40), name="this slice", position=2),
            Annotation(np.array([[40, 40], [45, 45]], float), roi_type="line", name="a line"),
            Annotation(square(200, 200), name="far")]
    rois.rois_to_manager(clean_ij, anns, clear=True)
    stack = numpy_to_imageplus(np.zeros((3, 300, 300), np.uint8), dims=("z", "y", "x"))
    stack.setSlice(2)
    found = rois.manager_areas_meeting((20, 20, 50, 50), stack)
    assert [a.name for a in found] == ["sub-pixel, touches the box edge", "this slice"]
    single = numpy_to_imageplus(np.zeros((300, 300), np.uint8))
    # on a single image ImageJ shows every ROI, whatever its position
    assert [a.name for a in rois.manager_areas_meeting((0, 0, 300, 300), single)] == [
        "left", "sub-pixel, touches the box edge", "other slice", "this slice", "far"]
    rois.rois_to_manager(clean_ij, [], clear=True)
    assert rois.manager_areas_meeting((0, 0, 300, 300), single) == []


def test_manager_areas_meeting_on_a_hyperstack_plane(clean_ij, conversion_path):
    """Hyperstack positions count as ImageJ shows them: slice and frame the plane's or 0."""
    square = np.array([[40, 40], [50, 40], [50, 50], [40, 50]], float)
    anns = [Annotation(square, name="this plane", hyperstack=(0, 2, 3)),
            Annotation(square, name="channel 2 of this plane", hyperstack=(2, 2, 3)),
            Annotation(square, name="every slice of frame 3", hyperstack=(0, 0, 3)),
            Annotation(square, name="other slice", hyperstack=(0, 1, 3)),
            Annotation(square, name="other frame", hyperstack=(0, 2, 1)),
            Annotation(square, name="stack index of channel 2 here", position=2 * 4 * 2 + 2 * 1 + 2),
            Annotation(square, name="stack index elsewhere", position=1)]
    rois.rois_to_manager(clean_ij, anns, clear=True)
    assert [a.hyperstack for a in rois.rois_from_manager(clean_ij)][:5] == [a.hyperstack for a in anns[:5]]
    hyperstack = numpy_to_imageplus(np.zeros((3, 4, 2, 100, 100), np.uint8), dims=("t", "z", "c", "y", "x"))
    hyperstack.setPosition(1, 2, 3)
    found = rois.manager_areas_meeting((0, 0, 100, 100), hyperstack)
    assert [a.name for a in found] == ["this plane", "channel 2 of this plane", "every slice of frame 3",
                                       "stack index of channel 2 here"]


def test_filling_and_emptying_the_shown_manager_never_breaks_its_repaint(clean_ij, capfd):
    """The manager's list changes on the Swing event thread. Changed from the calling thread, a
    repaint running meanwhile threw ArrayIndexOutOfBoundsException on AWT-EventQueue (1 to 4
    times in these 300 rounds)."""
    squares = [Annotation(np.array([[x, y], [x + 6, y], [x + 6, y + 6], [x, y + 6]], float))
               for x in range(0, 400, 8) for y in range(0, 32, 8)]
    capfd.readouterr()
    for i in range(300):
        assert rois.rois_to_manager(clean_ij, squares[: 20 + 7 * i % 180], clear=True) == 20 + 7 * i % 180
        time.sleep(0.002)
    time.sleep(0.5)  # let the last repaints run
    assert "Exception" not in capfd.readouterr().err


def test_bad_annotations_leave_the_manager_unchanged(clean_ij):
    rois.rois_to_manager(clean_ij, every_type()[:2], clear=True)
    bad = [
        Annotation(np.zeros((0, 2)), name="empty"),
        Annotation([[0, 0], [np.nan, 1], [2, 2]], name="nan"),
        Annotation([[0, 0], [4, 0], [4, 4]], name="colour", stroke_color="red"),
        Annotation([[1, 1], [1, 5]], name="flat", roi_type="rectangle"),
    ]
    for ann in bad:
        with pytest.raises(InputError, match=ann.name):
            rois.rois_to_manager(clean_ij, [every_type()[2], ann], clear=True)
    assert [a.name for a in rois.rois_from_manager(clean_ij)] == ["rect", "oval"]


def test_overlay_round_trip(clean_ij, conversion_path):
    imp = numpy_to_imageplus(np.zeros((20, 20), np.uint8))
    assert rois.overlay_to_annotations(imp) == []
    anns = every_type()
    rois.annotations_to_overlay(imp, anns[:3])
    rois.annotations_to_overlay(imp, anns[3:])
    assert imp.getOverlay().size() == len(anns)
    assert_same(rois.overlay_to_annotations(imp), anns)
    rois.annotations_to_overlay(imp, anns[:1], clear=True)
    assert [a.name for a in rois.overlay_to_annotations(imp)] == ["rect"]


def test_roiset_from_fiji_bridge_opens_in_imagej_roi_manager(clean_ij, tmp_path):
    labels = np.zeros((30, 40), np.uint16)
    labels[2:9, 3:12], labels[15:25, 20:35], labels[18:20, 24:27] = 1, 2, 0  # label 2 has a hole
    anns = labels_to_annotations(labels, position=2)
    for k, ann in enumerate(anns):
        ann.group = k + 4
    anns += every_type()
    path = tmp_path / "RoiSet.zip"
    write_roiset(path, anns)
    clean_ij.run_macro(f'roiManager("Open", "{path}");')
    manager = clean_ij.RoiManager.getInstance()
    assert manager.getCount() == len(anns)
    assert [str(manager.getName(i)) for i in range(len(anns))] == [a.name for a in anns]
    assert [int(manager.getRoi(i).getGroup()) for i in range(len(anns))] == [a.group for a in anns]
    assert [int(manager.getRoi(i).getPosition()) for i in range(len(anns))] == [a.position for a in anns]
    assert_same(rois.rois_from_manager(clean_ij), anns, atol=1e-4, group_colours=True)
    imp = numpy_to_imageplus(labels)  # the composite ROI with its hole fills exactly label 2
    imp.getProcessor().setValue(9)
    imp.getProcessor().fill(manager.getRoi(1))
    np.testing.assert_array_equal(imageplus_to_numpy(imp) == 9, labels == 2)


def test_roiset_saved_by_imagej_reads_back_the_same(clean_ij, tmp_path):
    anns = every_type() + labels_to_annotations(np.kron(np.arange(6).reshape(2, 3), np.ones((5, 5), int)))
    rois.rois_to_manager(clean_ij, anns, clear=True)
    path = tmp_path / "saved.zip"
    clean_ij.run_macro(f'roiManager("Save", "{path}");')
    from_file = read_roiset(path)
    assert_same(from_file, rois.rois_from_manager(clean_ij), atol=1e-4)
    assert_same(from_file, anns, atol=1e-4)


def test_only_the_helper_of_this_version_is_used(bridge):
    assert int(rois.java_helper().VERSION) == rois._HELPER_VERSION  # the installed shims jar is current

    class OlderBuild:  # a shims jar installed before an upgrade that changed a signature
        VERSION = rois._HELPER_VERSION - 1

    assert rois._current(OlderBuild) is None and rois._current(rois.java_helper()) is not None


def test_hyperstack_positions_travel_both_ways_through_roisets(clean_ij, tmp_path):
    """ImageJ's "Add to Manager" (key t) on a hyperstack gives a (c, z, t) position; that survives a
    RoiSet.zip saved by ImageJ and read by fiji_bridge, and one written by fiji_bridge and opened by
    ImageJ. (The macro's roiManager("add") gives no position, only the stack index in the name.)"""
    clean_ij.run_macro('newImage("hs", "8-bit black", 60, 60, 2, 4, 3); Stack.setPosition(2, 3, 2);'
                       'makeRectangle(5, 5, 10, 10); run("Add to Manager"); roiManager("select", 0);'
                       'roiManager("rename", "0001");'
                       f'roiManager("deselect"); roiManager("save", "{tmp_path / "imagej.zip"}");')
    (saved,) = read_roiset(tmp_path / "imagej.zip")
    assert (saved.name, saved.position, saved.hyperstack) == ("0001", 0, (2, 3, 2))
    saved.name, saved.hyperstack = "0002", (0, 4, 3)
    write_roiset(tmp_path / "ours.zip", [saved])
    clean_ij.run_macro(f'roiManager("reset"); roiManager("open", "{tmp_path / "ours.zip"}");')
    roi = clean_ij.RoiManager.getInstance().getRoi(0)
    assert bool(roi.hasHyperStackPosition())
    assert (int(roi.getCPosition()), int(roi.getZPosition()), int(roi.getTPosition())) == (0, 4, 3)

"""Plugins > Fiji Bridge > Labels to ROIs (Jython) and ROIs to Labels (Groovy) in real ImageJ 1.x:
from macros, from IJ.run, recorded by the Recorder with the dialog on screen, and on bad input."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import tifffile
from jpype import JClass

from fiji_bridge.annotation import Annotation
from fiji_bridge.ij.images import imageplus_to_numpy, numpy_to_imageplus
from fiji_bridge.ij.rois import rois_from_manager, rois_to_manager
from fiji_bridge.rois.labels import annotations_to_labels
from fiji_bridge.runtime.macro import MacroError, dialog_text

pytestmark = pytest.mark.imagej


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    """Poll until ``condition()`` is truthy; fail at once with its text if ImageJ shows an error message."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        errors = [dialog_text(w) for w in JClass("java.awt.Window").getWindows()
                  if w.isShowing() and w.getClass().getName() == "ij.gui.MessageDialog"]
        if errors:
            raise AssertionError(f"ImageJ showed {errors} while waiting for {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def show(labels: np.ndarray, title: str = "labels", dims=None) -> Any:
    imp = numpy_to_imageplus(labels, title=title, dims=dims)
    imp.show()
    wait_for(lambda: JClass("ij.WindowManager").getCurrentImage() == imp, "the image window")
    return imp


def imagej_fill(manager, shape: tuple[int, int], values: list[int]) -> np.ndarray:
    """The ROI Manager's ROIs painted by ImageJ itself (ImageProcessor.fill)."""
    ip = JClass("ij.process.FloatProcessor")(shape[1], shape[0])
    for i, value in enumerate(values):
        ip.setValue(float(value))
        ip.fill(manager.getRoi(i))
    return np.asarray(ip.getPixels()).reshape(shape)


def image_count(bridge) -> int:
    return int(bridge.WindowManager.getImageCount())


@pytest.fixture(scope="module")
def dsb_labels(dsb_val) -> np.ndarray:
    """A real DSB2018 label image (uint16), with objects touching and on the border."""
    return tifffile.imread(sorted((dsb_val / "masks").glob("*.tif"))[3])


def test_labels_to_rois_from_a_macro(clean_ij, dsb_labels):
    show(dsb_labels)
    rois_to_manager(clean_ij, [Annotation([[0, 0], [2, 0], [2, 2]], name="old")])
    clean_ij.run_macro('run("Labels to ROIs", "slices=current clear");')
    manager = clean_ij.RoiManager.getInstance()
    values = np.unique(dsb_labels)[1:].tolist()
    assert [str(manager.getName(i)) for i in range(manager.getCount())] == [f"{k:04d}" for k in values]
    assert all(manager.getRoi(i).getPosition() == 0 for i in range(manager.getCount()))
    np.testing.assert_array_equal(imagej_fill(manager, dsb_labels.shape, values), dsb_labels)


def test_rois_to_labels_from_ij_run(clean_ij, dsb_labels):
    source = show(dsb_labels, "nuclei")
    clean_ij.IJ.run("Labels to ROIs", "slices=current")
    clean_ij.IJ.run("ROIs to Labels", "output=16-bit values=name")
    made = clean_ij.WindowManager.getCurrentImage()
    assert made != source and str(made.getTitle()) == "nuclei-labels" and made.getBitDepth() == 16
    np.testing.assert_array_equal(imageplus_to_numpy(made), dsb_labels)
    clean_ij.IJ.selectWindow(source.getID())
    wait_for(lambda: clean_ij.WindowManager.getCurrentImage() == source, "the source image")
    clean_ij.IJ.run("ROIs to Labels", "output=32-bit values=index")
    made = clean_ij.WindowManager.getCurrentImage()
    assert made.getBitDepth() == 32
    expected = annotations_to_labels(rois_from_manager(clean_ij), dsb_labels.shape)
    np.testing.assert_array_equal(imageplus_to_numpy(made), expected.astype(np.float32))


def test_stacks_keep_slice_positions(clean_ij):
    stack = np.zeros((3, 20, 30), np.uint16)
    stack[0, 2:6, 2:6], stack[1, 10:15, 3:25], stack[2, 0:20, 0:3], stack[2, 5:9, 20:30] = 4, 9, 1, 2
    show(stack, "stack", dims=("z", "y", "x")).setSlice(2)
    clean_ij.run_macro('run("Labels to ROIs", "slices=current clear");')
    assert [(a.name, a.position) for a in rois_from_manager(clean_ij)] == [("0009", 2)]
    clean_ij.run_macro('run("Labels to ROIs", "slices=all clear");')
    assert [(a.name, a.position) for a in rois_from_manager(clean_ij)] == [
        ("0004", 1), ("0009", 2), ("0001", 3), ("0002", 3)]
    clean_ij.run_macro('run("ROIs to Labels", "output=16-bit values=name");')
    np.testing.assert_array_equal(imageplus_to_numpy(clean_ij.WindowManager.getCurrentImage()), stack)


def test_rois_to_labels_of_a_hyperstack_gives_one_slice_per_plane(clean_ij):
    """ROIs on any channel of a (z, t) plane, by stack index, hyperstack position or slice name,
    go to that plane's label slice."""
    clean_ij.run_macro('newImage("hs", "8-bit black", 30, 20, 2, 3, 1);'
                       'Stack.setPosition(2, 2, 1); makeRectangle(2, 2, 4, 4); run("Add to Manager");'  # (c, z, t)
                       'Stack.setPosition(1, 3, 1); makeRectangle(10, 2, 4, 4); roiManager("add");'  # name only
                       'roiManager("select", 0); roiManager("rename", "0007"); roiManager("deselect");'
                       'Stack.setPosition(2, 1, 1); makeRectangle(20, 2, 4, 4); roiManager("add");'  # 0002-0004-0022
                       'run("ROIs to Labels", "output=16-bit values=name");')
    labels = imageplus_to_numpy(clean_ij.WindowManager.getCurrentImage())
    assert labels.shape == (3, 20, 30)
    assert [sorted(set(np.unique(plane).tolist()) - {0}) for plane in labels] == [[2], [7], [5]]


def test_labels_to_rois_of_a_time_lapse_gives_slice_and_frame_positions(clean_ij):
    labels = np.zeros((2, 2, 20, 30), np.uint16)  # t, z
    labels[1, 0, 2:6, 2:6] = 3
    show(labels, "zt-labels", dims=("t", "z", "y", "x"))
    clean_ij.run_macro('run("Labels to ROIs", "slices=all clear");')
    assert [(a.name, a.hyperstack) for a in rois_from_manager(clean_ij)] == [("0003", (0, 1, 2))]


def test_rois_to_labels_of_a_time_lapse_keeps_its_slices_and_frames(clean_ij):
    clean_ij.run_macro('newImage("zt", "8-bit black", 30, 20, 1, 2, 3);'
                       'Stack.setPosition(1, 2, 3); makeRectangle(2, 2, 4, 4); run("Add to Manager");'
                       'roiManager("select", 0); roiManager("rename", "0005"); roiManager("deselect");'
                       'run("ROIs to Labels", "output=16-bit values=name");')
    made = clean_ij.WindowManager.getCurrentImage()
    assert (int(made.getNSlices()), int(made.getNFrames())) == (2, 3)
    labels = imageplus_to_numpy(made)
    assert labels.shape == (3, 2, 20, 30) and labels[2, 1].max() == 5 and labels.sum() == 5 * 16


def _dialog(title: str) -> Any:
    Window, GenericDialog = JClass("java.awt.Window"), JClass("ij.gui.GenericDialog")
    for window in Window.getWindows():
        if isinstance(window, GenericDialog) and window.isShowing() and str(window.getTitle()) == title:
            return window
    return None


def _click(button) -> None:
    """Post a real button press on the AWT event queue (what a mouse click on OK delivers)."""
    ActionEvent, Toolkit = JClass("java.awt.event.ActionEvent"), JClass("java.awt.Toolkit")
    event = ActionEvent(button, ActionEvent.ACTION_PERFORMED, button.getLabel())
    Toolkit.getDefaultToolkit().getSystemEventQueue().postEvent(event)


def _run_from_menu_and_press_ok(bridge, command: str, choices: dict[int, str], checks: dict[int, bool]) -> None:
    bridge.IJ.doCommand(command)  # what choosing the menu item does: the command runs in its own thread
    dialog = wait_for(lambda: _dialog(command), f"the {command} dialog on screen")
    for index, item in choices.items():
        dialog.getChoices().get(index).select(item)
    for index, state in checks.items():
        dialog.getCheckboxes().get(index).setState(state)
    _click(next(b for b in dialog.getButtons() if b is not None and str(b.getLabel()).strip() == "OK"))
    wait_for(lambda: _dialog(command) is None, f"the {command} dialog to close")


def _dispose_dialogs() -> None:
    """Close dialogs a failed GUI test left open, so that nothing blocks later tests or the exit."""
    Window, Dialog = JClass("java.awt.Window"), JClass("java.awt.Dialog")
    for window in Window.getWindows():
        if isinstance(window, Dialog) and window.isShowing():
            window.dispose()


def test_recorder_records_both_commands_and_the_recording_replays(clean_ij, dsb_labels):
    Recorder = JClass("ij.plugin.frame.Recorder")
    clean_ij.IJ.run("Record...")
    recorder = wait_for(lambda: Recorder.getInstance(), "the Recorder window")
    first = 'run("Labels to ROIs", "slices=current clear");'
    second = 'run("ROIs to Labels", "output=32-bit values=name");'
    recorded = lambda line: line in str(recorder.getText()) and str(recorder.getText())  # noqa: E731
    try:
        assert recorder.isShowing()
        source = show(dsb_labels, "nuclei")
        _run_from_menu_and_press_ok(clean_ij, "Labels to ROIs", {0: "current"}, {0: True})
        # the Recorder writes a command's line when the command returns; a user starts the next one after that
        wait_for(lambda: recorded(first), f"the Recorder to show {first}")
        assert clean_ij.RoiManager.getInstance().getCount() == len(np.unique(dsb_labels)) - 1
        _run_from_menu_and_press_ok(clean_ij, "ROIs to Labels", {0: "32-bit", 1: "name"}, {})
        text = wait_for(lambda: recorded(second), f"the Recorder to show {second}")
        made = clean_ij.WindowManager.getCurrentImage()
        assert made != source
        np.testing.assert_array_equal(imageplus_to_numpy(made), dsb_labels.astype(np.float32))
    finally:
        _dispose_dialogs()
        recorder.close()
    assert first in text and text.index(first) < text.index(second)
    clean_ij.reset()
    show(dsb_labels, "nuclei")
    clean_ij.run_macro(first + "\n" + second)  # replays without any dialog (the guard would report one)
    np.testing.assert_array_equal(imageplus_to_numpy(clean_ij.WindowManager.getCurrentImage()),
                                  dsb_labels.astype(np.float32))


def _fails_and_changes_nothing(bridge, macro: str, message: str) -> None:
    before_images = image_count(bridge)
    before_rois = [a.name for a in rois_from_manager(bridge)]
    with pytest.raises(MacroError, match=message):
        bridge.run_macro(macro + '\nprint("macro went on");')
    assert "macro went on" not in bridge.log_text()
    assert image_count(bridge) == before_images
    assert [a.name for a in rois_from_manager(bridge)] == before_rois


def test_labels_to_rois_bad_input(clean_ij):
    rois_to_manager(clean_ij, [Annotation([[0, 0], [4, 0], [4, 4]], name="keep")])
    run = 'run("Labels to ROIs", "slices=current clear");'
    _fails_and_changes_nothing(clean_ij, run, "needs an open label image")
    show(np.zeros((5, 5, 3), np.uint8), "colour")
    _fails_and_changes_nothing(clean_ij, run, '"colour" is an RGB image')
    show(np.array([[0, 1.5], [2, 2]], np.float32), "fractions")
    _fails_and_changes_nothing(clean_ij, run, "not labels")
    show(np.zeros((5, 5), np.uint16), "empty")
    _fails_and_changes_nothing(clean_ij, run, "holds no labels")
    _fails_and_changes_nothing(clean_ij, 'run("Labels to ROIs", "slices=some");', "slices")


def test_rois_to_labels_bad_input(clean_ij):
    run = 'run("ROIs to Labels", "output=16-bit values=index");'
    show(np.zeros((10, 10), np.uint8), "blank")
    _fails_and_changes_nothing(clean_ij, run, "ROI Manager is empty")
    rois_to_manager(clean_ij, [Annotation([[1, 1], [8, 8]], name="stroke", roi_type="line")])
    _fails_and_changes_nothing(clean_ij, run, "no area ROIs")


def test_seventy_thousand_labels(clean_ij):
    labels = np.arange(1, 70_001, dtype=np.int32).reshape(250, 280)
    labels[::7] = 0
    show(labels, "many")  # 32-bit: 16-bit cannot hold these values
    count = int((labels > 0).sum())
    clean_ij.run_macro('run("Labels to ROIs", "slices=current clear");')
    assert clean_ij.RoiManager.getInstance().getCount() == count
    _fails_and_changes_nothing(clean_ij, 'run("ROIs to Labels", "output=16-bit values=name");',
                               "does not fit a 16-bit label image")
    clean_ij.run_macro('run("ROIs to Labels", "output=32-bit values=name");')
    np.testing.assert_array_equal(imageplus_to_numpy(clean_ij.WindowManager.getCurrentImage()),
                                  labels.astype(np.float32))


def test_python_failure_in_the_service_then_the_next_call_works(clean_ij, dsb_labels):
    shell = JClass("groovy.lang.GroovyShell")()
    result = shell.evaluate('System.getProperties().get("fiji_bridge.service").apply(["labels_to_rois", "not an image"])')
    assert not result.get("ok") and "labels_to_rois" in str(result.get("error"))
    assert "Traceback" not in str(result.get("error"))
    show(dsb_labels)
    clean_ij.run_macro('run("Labels to ROIs", "slices=current clear");')
    assert clean_ij.RoiManager.getInstance().getCount() == len(np.unique(dsb_labels)) - 1


def test_missing_service_tells_how_to_start(clean_ij):
    System = JClass("java.lang.System")
    service = System.getProperties().remove("fiji_bridge.service")
    try:
        for command in ("Labels to ROIs", "ROIs to Labels"):
            with pytest.raises(MacroError, match="fiji-bridge gui"):
                clean_ij.run_macro(f'run("{command}", "");')
    finally:
        System.getProperties().put("fiji_bridge.service", service)


def test_rois_to_labels_leaves_out_lines_and_points_and_says_so(clean_ij):
    """As Export Annotations does: ROIs without area are left out and named in the Log; the
    others keep their ROI Manager index as value."""
    show(np.zeros((40, 50), np.uint8), "blank")
    clean_ij.IJ.log("\\Clear")
    clean_ij.run_macro('makeLine(2, 2, 30, 30); roiManager("add"); makeRectangle(5, 5, 10, 10); roiManager("add");'
                       'makePoint(40, 30); roiManager("add");'
                       'run("ROIs to Labels", "output=16-bit values=index");')
    labels = imageplus_to_numpy(clean_ij.WindowManager.getCurrentImage())
    assert sorted(np.unique(labels)) == [0, 2] and (labels == 2).sum() == 100
    log = clean_ij.log_text()
    assert "ROIs to Labels: left out 2 ROI(s) without area" in log and "line" in log and "point" in log
    clean_ij.run_macro('roiManager("select", 1); roiManager("delete");')
    with pytest.raises(MacroError, match="no area ROIs"):
        clean_ij.run_macro('run("ROIs to Labels", "output=16-bit values=index");')

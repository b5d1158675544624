"""Fiji Bridge command dialogs in real ImageJ 1.x (Xvfb): they open with the values the user last
confirmed (ij.Prefs, fiji_bridge.<command>.<key>), macro calls with options neither read nor change
those, and a macro stops at a command dialog that nobody can answer."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jpype import JClass

from fiji_bridge.ij.images import numpy_to_imageplus
from fiji_bridge.runtime.macro import MacroError

pytestmark = pytest.mark.imagej

REMEMBERED = {"Suggest Contour": ("method", "max_distance", "add"), "Labels to ROIs": ("slices", "clear")}
# what each dialog shows for remembered values (choices, numbers, text fields (folders end in /), checkboxes)
SHOWN = {
    "Segment Nuclei": ({"diameter": "21.5", "tta": "true", "output": "overlay", "slices": "all", "clear": "true"},
                       (["overlay", "all"], ["21.5"], [], [True, True])),
    "Export Annotations": ({"source": "folder", "image": "/data/img", "rois": "/data/rois", "output": "/data/out",
                            "formats": "binary,coco", "yolo": "polygons", "values": "name", "overwrite": "true"},
                           (["folder", "polygons", "name"], [], ["/data/img/", "/data/rois/", "/data/out/"],
                            [False, False, True, False, False, True, True])),
    "Import Masks": ({"file": "/data/a.tiff", "kind": "coco", "connectivity": "4", "class": "3", "clear": "true"},
                     (["coco", "4"], [], ["/data/a.tiff", "3"], [True])),
    "Import OpSeF": ({"list": "/p/list.txt", "clear": "true"}, ([], [], ["/p/list.txt"], [True])),
    "Export OpSeF": ({"list": "/p/list.txt", "overwrite": "true"}, ([], [], ["/p/list.txt"], [True])),
    "Labels to ROIs": ({"slices": "all", "clear": "true"}, (["all"], [], [], [True])),
}


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def showing_dialog(title: str) -> Any:
    for window in JClass("java.awt.Window").getWindows():
        if isinstance(window, JClass("ij.gui.GenericDialog")) and window.isShowing() \
                and str(window.getTitle()) == title:
            return window
    return None


def press(button) -> None:
    """Post a real button press on the AWT event queue (what a mouse click delivers)."""
    ActionEvent = JClass("java.awt.event.ActionEvent")
    event = ActionEvent(button, ActionEvent.ACTION_PERFORMED, button.getLabel())
    JClass("java.awt.Toolkit").getDefaultToolkit().getSystemEventQueue().postEvent(event)


def answer(bridge, command: str, button: str = "OK", choices: dict[int, str] | None = None,
           numbers: dict[int, str] | None = None, checks: dict[int, bool] | None = None) -> tuple:
    """Run `command` from the menu, return what its dialog shows (choices, numbers, text fields,
    checkboxes), then fill in the given values and press `button`."""
    bridge.IJ.doCommand(command)
    dialog = wait_for(lambda: showing_dialog(command), f"the {command} dialog")
    lists = (dialog.getChoices(), dialog.getNumericFields(), dialog.getCheckboxes())
    shown = ([str(c.getSelectedItem()) for c in lists[0] or []], [str(f.getText()) for f in lists[1] or []],
             [str(f.getText()) for f in dialog.getStringFields() or []], [bool(c.getState()) for c in lists[2] or []])
    for index, item in (choices or {}).items():
        lists[0].get(index).select(item)
    for index, text in (numbers or {}).items():
        lists[1].get(index).setText(text)
    for index, state in (checks or {}).items():
        lists[2].get(index).setState(state)
    press(next(b for b in dialog.getButtons() if b is not None and str(b.getLabel()).strip() == button))
    wait_for(lambda: showing_dialog(command) is None, f"the {command} dialog to close")
    return shown


def remembered(command: str, key: str) -> str | None:
    value = JClass("ij.Prefs").get(f"fiji_bridge.{command.lower().replace(' ', '_')}.{key}", None)
    return None if value is None else str(value)


@pytest.fixture
def fresh_prefs(clean_ij):
    """`clean_ij` with nothing remembered for the commands under test, before and after."""
    def forget() -> None:
        for command, keys in [*REMEMBERED.items(), *((c, tuple(v[0])) for c, v in SHOWN.items())]:
            for key in keys:
                JClass("ij.Prefs").set(f"fiji_bridge.{command.lower().replace(' ', '_')}.{key}", None)

    forget()
    yield clean_ij
    for window in JClass("java.awt.Window").getWindows():  # a failed test must not leave a dialog open
        if isinstance(window, JClass("java.awt.Dialog")) and window.isShowing():
            window.dispose()
    forget()


def manager_count(bridge) -> int:
    manager = bridge.RoiManager.getInstance()
    return 0 if manager is None else int(manager.getCount())


def test_suggest_contour_reopens_with_the_last_confirmed_choices(fresh_prefs, dsb_val: Path):
    """The audit's case: annotating with a shortcut, the dialog must keep method, distance and add."""
    image = sorted((dsb_val / "images").glob("*.tif"))[1]
    fresh_prefs.run_macro(f'open("{image}"); makeOval(20, 20, 20, 20);')
    first = answer(fresh_prefs, "Suggest Contour", choices={0: "active_contour"}, numbers={0: "25"}, checks={0: True})
    assert first == (["unet"], ["17"], [], [False])
    wait_for(lambda: manager_count(fresh_prefs) == 1, "the suggestion in the ROI Manager")
    fresh_prefs.run_macro("makeOval(60, 60, 20, 20);")
    assert answer(fresh_prefs, "Suggest Contour", button="Cancel") == (["active_contour"], ["25"], [], [True])
    # a macro call with options is reproducible: it neither uses nor changes what the user chose
    fresh_prefs.run_macro('run("Suggest Contour", "method=region_growing max_distance=9");')
    assert manager_count(fresh_prefs) == 1  # "add" was not taken from the remembered choice
    assert [remembered("Suggest Contour", k) for k in REMEMBERED["Suggest Contour"]] == \
        ["active_contour", "25.0", "true"]


@pytest.mark.parametrize("command", sorted(SHOWN))
def test_every_dialog_opens_with_the_remembered_values(fresh_prefs, command):
    values, shown = SHOWN[command]
    fresh_prefs.run_macro('newImage("img", "8-bit black", 40, 30, 1);')
    for key, value in values.items():
        JClass("ij.Prefs").set(f"fiji_bridge.{command.lower().replace(' ', '_')}.{key}", value)
    assert answer(fresh_prefs, command, button="Cancel") == shown


def test_labels_to_rois_remembers_and_macro_options_keep_their_defaults(fresh_prefs):
    labels = np.zeros((2, 20, 30), dtype=np.uint16)
    labels[0, 2:6, 2:6], labels[1, 8:12, 8:12] = 1, 2
    numpy_to_imageplus(labels, title="two-slices", dims=("z", "y", "x")).show()
    wait_for(lambda: fresh_prefs.WindowManager.getCurrentImage() is not None, "the image window")
    assert answer(fresh_prefs, "Labels to ROIs", choices={0: "all"}, checks={0: True}) == (["current"], [], [], [False])
    wait_for(lambda: manager_count(fresh_prefs) == 2, "both slices' ROIs")
    assert answer(fresh_prefs, "Labels to ROIs", button="Cancel") == (["all"], [], [], [True])
    fresh_prefs.run_macro('roiManager("reset"); run("Labels to ROIs", "clear");')  # slices= left out: "current"
    assert manager_count(fresh_prefs) == 1
    fresh_prefs.run_macro('run("Labels to ROIs", "slices=current");')
    assert (remembered("Labels to ROIs", "slices"), remembered("Labels to ROIs", "clear")) == ("all", "true")


def test_a_macro_stops_at_a_fiji_bridge_dialog_nobody_can_answer(fresh_prefs, dsb_val: Path):
    image = sorted((dsb_val / "images").glob("*.tif"))[1]
    with pytest.raises(MacroError, match="'Suggest Contour' asked for input, so the macro stopped there"):
        fresh_prefs.run_macro(f'open("{image}"); makeRectangle(18, 202, 12, 12); run("Suggest Contour");'
                              'print("went on"); run("Accept Contour");')
    assert "went on" not in fresh_prefs.log_text() and manager_count(fresh_prefs) == 0
    assert remembered("Suggest Contour", "method") is None  # a cancelled dialog remembers nothing
    assert fresh_prefs.run_macro('return "still works";') == "still works"


def test_a_macro_stops_at_an_imagej_dialog_nobody_can_answer(clean_ij):
    with pytest.raises(MacroError, match="'Gaussian Blur...' asked for input, so the macro stopped there"):
        clean_ij.run_macro('newImage("a", "8-bit ramp", 64, 64, 1); run("Gaussian Blur..."); print("went on");')
    assert "went on" not in clean_ij.log_text()


def test_fiji_bridge_macro_names_the_dialog_and_stops(bridge, tmp_path: Path):
    macro = tmp_path / "no_options.ijm"
    macro.write_text('newImage("a", "8-bit ramp", 64, 64, 1); makeRectangle(5, 5, 20, 20);\n'
                     'print("before");\nrun("Suggest Contour");\nprint("went on");\nrun("Accept Contour");\n')
    done = subprocess.run([sys.executable, "-m", "fiji_bridge.cli.main", "macro", str(macro)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ))
    assert done.returncode == 1, done.stderr
    assert "before" in done.stdout and "went on" not in done.stdout
    assert "the dialog 'Suggest Contour' asked for input" in done.stderr


@pytest.fixture
def rois_to_labels_prefs(fresh_prefs):
    """`fresh_prefs` with nothing remembered for ROIs to Labels (the Groovy command), before and after."""
    def forget() -> None:
        for key in ("output", "values"):
            JClass("ij.Prefs").set(f"fiji_bridge.rois_to_labels.{key}", None)

    forget()
    yield fresh_prefs
    forget()


def test_rois_to_labels_remembers_and_macro_options_keep_their_defaults(rois_to_labels_prefs):
    """The Groovy command keeps its choices under the same ij.Prefs scheme as the Jython ones."""
    bridge = rois_to_labels_prefs
    bridge.run_macro('newImage("img", "8-bit black", 40, 30, 1); makeRectangle(2, 3, 5, 6); roiManager("add");'
                     'makeRectangle(10, 10, 4, 4); roiManager("add"); run("Select None");')
    source = bridge.WindowManager.getCurrentImage()
    assert answer(bridge, "ROIs to Labels", choices={0: "32-bit", 1: "name"}) == (["16-bit", "index"], [], [], [])
    wait_for(lambda: bridge.WindowManager.getCurrentImage() != source, "the label image")
    assert bridge.WindowManager.getCurrentImage().getBitDepth() == 32
    assert (remembered("ROIs to Labels", "output"), remembered("ROIs to Labels", "values")) == ("32-bit", "name")
    bridge.IJ.selectWindow(source.getID())
    wait_for(lambda: bridge.WindowManager.getCurrentImage() == source, "the source image")
    assert answer(bridge, "ROIs to Labels", button="Cancel") == (["32-bit", "name"], [], [], [])
    # a macro call with options starts from the fixed defaults (output= left out: 16-bit) and changes nothing
    bridge.run_macro('run("ROIs to Labels", "values=index");')
    made = bridge.WindowManager.getCurrentImage()
    assert made != source and made.getBitDepth() == 16
    assert (remembered("ROIs to Labels", "output"), remembered("ROIs to Labels", "values")) == ("32-bit", "name")


def test_rois_to_labels_cancel_remembers_nothing_and_unknown_values_fall_back(rois_to_labels_prefs):
    bridge = rois_to_labels_prefs
    bridge.run_macro('newImage("img", "8-bit black", 40, 30, 1); makeRectangle(2, 3, 5, 6); roiManager("add");')
    assert answer(bridge, "ROIs to Labels", button="Cancel", choices={0: "32-bit"}) == (["16-bit", "index"], [], [], [])
    assert remembered("ROIs to Labels", "output") is None
    JClass("ij.Prefs").set("fiji_bridge.rois_to_labels.output", "8-bit")  # no longer a choice
    JClass("ij.Prefs").set("fiji_bridge.rois_to_labels.values", "name")
    assert answer(bridge, "ROIs to Labels", button="Cancel") == (["16-bit", "name"], [], [], [])

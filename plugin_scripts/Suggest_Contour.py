# Plugins > Fiji Bridge > Suggest Contour (Jython): the current selection (a rough outline,
# rectangle, oval or a line drawn across an object) is replaced by the suggested contour of the
# object it points at (fiji_bridge.suggest_contour on the current slice).
# Recordable: run("Suggest Contour", "method=unet max_distance=17 add")
import bridgeclient
from ij import IJ, WindowManager
from ij.gui import GenericDialog

TITLE = "Suggest Contour"
METHODS = ["unet", "region_growing", "active_contour"]


def options_from_dialog():
    """The dialog's options (opening with the user's last ones), or None when it was cancelled."""
    memory = bridgeclient.DialogMemory(TITLE)
    gd = GenericDialog(TITLE)
    gd.addChoice("Method", METHODS, memory.get("method", "unet", METHODS))
    gd.addNumericField("Max_distance", memory.get("max_distance", 17), 0, 4, "px")
    gd.addCheckbox("Add to ROI Manager", memory.get("add", False))
    gd.showDialog()
    if gd.wasCanceled():
        return None
    options = {"method": gd.getNextChoice(), "max_distance": gd.getNextNumber(), "add": gd.getNextBoolean()}
    memory.save(options)
    return options


def main():
    bridgeclient.service()
    macro = bridgeclient.macro_options()
    if macro is None:
        options = options_from_dialog()
        if options is None:
            return
    else:  # same keys as the dialog's: method, max_distance, add
        options = {"method": bridgeclient.option_value(macro, "method", "unet"),
                   "max_distance": bridgeclient.option_value(macro, "max_distance", "17"),
                   "add": bridgeclient.option_flag(macro, "add")}
    value = bridgeclient.call("suggest_contour", WindowManager.getCurrentImage(), options)
    added = value.get("name")
    IJ.showStatus(TITLE + (": added " + added if added else ": done (Accept Contour adds it)"))


bridgeclient.run(main)

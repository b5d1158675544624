# Plugins > Fiji Bridge > Labels to ROIs (Jython): the current label image -> ROI Manager, one ROI
# per label k > 0 named %04d of k (fiji_bridge service command "labels_to_rois").
# Recordable: run("Labels to ROIs", "slices=current clear")
import bridgeclient
from ij import IJ, WindowManager
from ij.gui import GenericDialog

TITLE = "Labels to ROIs"
SLICES = ["current", "all"]


def main():
    bridgeclient.service()
    memory = bridgeclient.DialogMemory(TITLE)
    gd = GenericDialog(TITLE)
    gd.addChoice("Slices", SLICES, memory.get("slices", SLICES[0], SLICES))
    gd.addCheckbox("Clear ROI Manager first", memory.get("clear", False))
    gd.showDialog()
    if gd.wasCanceled():
        return
    options = {"slices": gd.getNextChoice(), "clear": gd.getNextBoolean()}
    memory.save(options)
    count = bridgeclient.call("labels_to_rois", WindowManager.getCurrentImage(), options)
    IJ.showStatus("%s: %s ROIs added to the ROI Manager" % (TITLE, count))


bridgeclient.run(main)

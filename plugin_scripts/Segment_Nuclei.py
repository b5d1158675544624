# Plugins > Fiji Bridge > Segment Nuclei (Jython): nucleAIzer-style nucleus segmentation of the
# current slice (or all slices) with fiji_bridge.segment_nuclei. Nuclei go to the ROI Manager
# (named 0001... by label), to the image overlay, or to a new label image.
# Recordable: run("Segment Nuclei", "diameter=0 output=[ROI Manager] slices=current")
import bridgeclient
from ij import IJ, WindowManager
from ij.gui import GenericDialog

TITLE = "Segment Nuclei"
OUTPUTS = ["ROI Manager", "overlay", "label image"]
SLICES = ["current", "all"]


def main():
    bridgeclient.service()
    imp = WindowManager.getCurrentImage()
    if imp is None:
        IJ.error(TITLE, TITLE + " needs an open image: open one (File > Open...) and run it again")
        return
    memory = bridgeclient.DialogMemory(TITLE)
    gd = GenericDialog(TITLE)
    gd.addNumericField("Diameter", memory.get("diameter", 0), 1, 6, "px (0 = automatic)")
    gd.addCheckbox("TTA (flips/rotations, 8x slower)", memory.get("tta", False))
    gd.addChoice("Output", OUTPUTS, memory.get("output", OUTPUTS[0], OUTPUTS))
    gd.addChoice("Slices", SLICES, memory.get("slices", SLICES[0], SLICES))
    gd.addCheckbox("Clear ROI Manager / overlay first", memory.get("clear", False))
    gd.showDialog()
    if gd.wasCanceled():
        return
    options = {"diameter": gd.getNextNumber(), "tta": gd.getNextBoolean(), "output": gd.getNextChoice(),
               "slices": gd.getNextChoice(), "clear": gd.getNextBoolean()}
    memory.save(options)
    count = bridgeclient.call("segment_nuclei", imp, options)
    IJ.showStatus("%s: %s nuclei" % (TITLE, count))


bridgeclient.run(main)

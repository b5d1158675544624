# Plugins > Fiji Bridge > Import Masks (Jython): a label / binary / layered mask, box CSV, YOLO,
# COCO or ROI zip file -> ROI Manager (labels kept in the ROI names as 0001, ..., classes in the
# ROI groups; a mask or box file in a Class_NN folder gives class NN, unless a Class is given).
# Adds to the ROI Manager; it is emptied first only when "Clear" is ticked.
# Recordable: run("Import Masks", "annotation=/data/labelled_masks/img.tiff kind=auto connectivity=8");
# run("Import Masks", "annotation=/data/labelled_masks/img.tiff kind=labels class=2");
import bridgeclient
from ij import IJ, WindowManager
from ij.gui import GenericDialog

TITLE = "Import Masks"
KINDS = ["auto", "labels", "binary", "layered", "bbox", "yolo", "coco", "rois"]


def main():
    bridgeclient.service()
    memory = bridgeclient.DialogMemory(TITLE)
    gd = GenericDialog(TITLE)
    gd.addFileField("Annotation file", memory.get("file", ""))
    gd.addChoice("Kind", KINDS, memory.get("kind", "auto", KINDS))
    gd.addChoice("Connectivity (binary masks)", ["8", "4"], memory.get("connectivity", "8", ["8", "4"]))
    gd.addStringField("Class (empty = from the file)", memory.get("class", ""))  # macro key: class=
    gd.addCheckbox("Clear ROI Manager first", memory.get("clear", False))
    gd.showDialog()
    if gd.wasCanceled():
        return
    options = {"file": gd.getNextString(), "kind": gd.getNextChoice(),
               "connectivity": gd.getNextChoice(), "class": gd.getNextString(), "clear": gd.getNextBoolean()}
    memory.save(options)
    count = bridgeclient.call("import_masks", WindowManager.getCurrentImage(), options)
    IJ.showStatus("%s: %s ROIs added to the ROI Manager" % (TITLE, count))


bridgeclient.run(main)

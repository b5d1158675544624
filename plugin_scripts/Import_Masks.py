# Plugins > Fiji Bridge > Import Masks (Jython): a label / binary / layered mask, box CSV, YOLO,
# COCO or ROI zip file -> ROI Manager (labels kept in the ROI names as 0001, ..., classes in the
# ROI groups). Adds to the ROI Manager; it is emptied first only when "Clear" is ticked.
# Recordable: run("Import Masks", "annotation=/data/labelled_masks/img.tiff kind=auto connectivity=8");
import bridgeclient
from ij import IJ, WindowManager
from ij.gui import GenericDialog

TITLE = "Import Masks"
KINDS = ["auto", "labels", "binary", "layered", "bbox", "yolo", "coco", "rois"]


def main():
    bridgeclient.service()
    gd = GenericDialog(TITLE)
    gd.addFileField("Annotation file", "")
    gd.addChoice("Kind", KINDS, "auto")
    gd.addChoice("Connectivity (binary masks)", ["8", "4"], "8")
    gd.addCheckbox("Clear ROI Manager first", False)
    gd.showDialog()
    if gd.wasCanceled():
        return
    options = {"file": gd.getNextString(), "kind": gd.getNextChoice(),
               "connectivity": gd.getNextChoice(), "clear": gd.getNextBoolean()}
    count = bridgeclient.call("import_masks", WindowManager.getCurrentImage(), options)
    IJ.showStatus("%s: %s ROIs added to the ROI Manager" % (TITLE, count))


bridgeclient.run(main)

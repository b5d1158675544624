# Plugins > Fiji Bridge > Import OpSeF (Jython): an OpSeF FilePairList -> one stack (a slice per
# line) and its objects in the ROI Manager (ROI position = slice, name = label, group = class;
# 12_TmpRoisFromFiji/<mask>_ROIs.zip is used instead of the mask when present).
# Adds to the ROI Manager; it is emptied first only when "Clear" is ticked.
# Recordable: run("Import OpSeF", "filepairlist=/p/Processed_001/10_ImportExport/FilePairList_x.txt");
import bridgeclient
from ij import IJ
from ij.gui import GenericDialog

TITLE = "Import OpSeF"


def main():
    bridgeclient.service()
    memory = bridgeclient.DialogMemory(TITLE)
    gd = GenericDialog(TITLE)
    gd.addFileField("FilePairList", memory.get("list", ""))
    gd.addCheckbox("Clear ROI Manager first", memory.get("clear", False))
    gd.showDialog()
    if gd.wasCanceled():
        return
    options = {"list": gd.getNextString(), "clear": gd.getNextBoolean()}
    memory.save(options)
    count = bridgeclient.call("import_opsef", options)
    IJ.showStatus("%s: %s ROIs added to the ROI Manager" % (TITLE, count))


bridgeclient.run(main)

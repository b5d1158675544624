# Plugins > Fiji Bridge > Export OpSeF (Jython): the ROI Manager's ROIs (position = slice) back
# into the OpSeF project: 12_TmpRoisFromFiji, 11_SegMasksFromFiji (labels = ROI names, new ROIs
# max + 1), 13_ClassifiedSegMasksFromFiji and 10_ImportExport/FilePairList_fromFiji_*.txt.
# The FilePairList defaults to the one the current stack came from (Import OpSeF), else the last one.
# Recordable: run("Export OpSeF", "filepairlist=/p/Processed_001/10_ImportExport/FilePairList_x.txt");
import bridgeclient
from ij import IJ, WindowManager
from ij.gui import GenericDialog

TITLE = "Export OpSeF"
LIST_PROPERTY = "fiji_bridge.opsef_list"


def main():
    bridgeclient.service()
    imp = WindowManager.getCurrentImage()
    default = imp.getProperty(LIST_PROPERTY) if imp is not None else None
    memory = bridgeclient.DialogMemory(TITLE)
    gd = GenericDialog(TITLE)
    gd.addFileField("FilePairList", default or memory.get("list", ""))
    gd.addCheckbox("Overwrite earlier export", memory.get("overwrite", False))
    gd.showDialog()
    if gd.wasCanceled():
        return
    options = {"list": gd.getNextString(), "overwrite": gd.getNextBoolean()}
    memory.save(options)
    count = bridgeclient.call("export_opsef", imp, options)
    IJ.showStatus("%s: %s files written into the project" % (TITLE, count))


bridgeclient.run(main)

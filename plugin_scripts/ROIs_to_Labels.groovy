// Plugins > Fiji Bridge > ROIs to Labels (Groovy): ROI Manager -> a new 16-bit (or 32-bit) label
// image of the current image's size (fiji_bridge service command "rois_to_labels").
// Recordable: run("ROIs to Labels", "output=16-bit values=index")
import ij.IJ
import ij.WindowManager
import ij.gui.GenericDialog

def svc = System.getProperties().get("fiji_bridge.service")
if (svc == null) {
    IJ.error("Fiji Bridge", "Fiji Bridge is not running in this ImageJ.\n" +
        "Start ImageJ through fiji_bridge instead:\n" +
        "  - in a terminal: fiji-bridge gui   (or: fiji-bridge gui --fiji /path/to/Fiji.app)\n" +
        "  - or in Fiji's Python mode / any Python: import fiji_bridge; fiji_bridge.start(mode=\"gui\")\n" +
        "then run this command again.")
    return
}
def title = "ROIs to Labels"
def gd = new GenericDialog(title)
gd.addChoice("Output", ["16-bit", "32-bit"] as String[], "16-bit")
gd.addChoice("Values", ["index", "name"] as String[], "index")
gd.showDialog()
if (gd.wasCanceled())
    return
def options = ["output": gd.getNextChoice(), "values": gd.getNextChoice()]
def result = svc.apply(["rois_to_labels", WindowManager.getCurrentImage(), options])
if (!result.get("ok")) {
    IJ.error("Fiji Bridge", result.get("error"))
    return
}
IJ.showStatus(title + ": created " + result.get("value").getTitle())

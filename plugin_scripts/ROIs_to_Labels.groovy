// Plugins > Fiji Bridge > ROIs to Labels (Groovy): ROI Manager -> a new 16-bit (or 32-bit) label
// image of the current image's size (fiji_bridge service command "rois_to_labels").
// Recordable: run("ROIs to Labels", "output=16-bit values=index")
// The dialog opens with the values last confirmed with OK, kept in ij.Prefs as
// fiji_bridge.rois_to_labels.<key> (the scheme of bridgeclient.DialogMemory); a macro call with
// options neither reads nor changes them.
import ij.IJ
import ij.Macro
import ij.Prefs
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
def prefix = "fiji_bridge.rois_to_labels."
def remember = Macro.getOptions() == null
def choices = ["output": ["16-bit", "32-bit"], "values": ["index", "name"]]
def initial = { String key ->
    def text = remember ? Prefs.get(prefix + key, null) : null
    return text in choices[key] ? text : choices[key][0]
}
def gd = new GenericDialog(title)
gd.addChoice("Output", choices["output"] as String[], initial("output"))
gd.addChoice("Values", choices["values"] as String[], initial("values"))
gd.showDialog()
if (gd.wasCanceled())
    return
def options = ["output": gd.getNextChoice(), "values": gd.getNextChoice()]
if (remember)
    options.each { key, value -> Prefs.set(prefix + key, value) }
def result = svc.apply(["rois_to_labels", WindowManager.getCurrentImage(), options])
if (!result.get("ok")) {
    IJ.error("Fiji Bridge", result.get("error"))
    return
}
IJ.showStatus(title + ": created " + result.get("value").getTitle())

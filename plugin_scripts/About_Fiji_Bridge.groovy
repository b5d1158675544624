// Plugins > Fiji Bridge > About Fiji Bridge: versions and service commands, in the Log window.
// The first lines are the pattern every Groovy command uses to find the fiji_bridge service.
import ij.IJ

def svc = System.getProperties().get("fiji_bridge.service")
if (svc == null) {
    IJ.error("Fiji Bridge", "Fiji Bridge is not running in this ImageJ.\n" +
        "Start ImageJ through fiji_bridge instead:\n" +
        "  - in a terminal: fiji-bridge gui   (or: fiji-bridge gui --fiji /path/to/Fiji.app)\n" +
        "  - or in Fiji's Python mode / any Python: import fiji_bridge; fiji_bridge.start(mode=\"gui\")\n" +
        "then run this command again.")
    return
}
def call = { List request ->
    def result = svc.apply(request)
    if (!result.get("ok")) { IJ.error("Fiji Bridge", result.get("error")); return null }
    return result.get("value")
}

def version = call(["version"])
if (version != null) {
    IJ.log(version.toString())
    IJ.log("Service commands: " + call(["list_commands"]).join(", "))
}

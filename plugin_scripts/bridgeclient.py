# Shared Jython helper for Fiji Bridge commands (a library, not a menu command: no underscore in
# its name). ImageJ 1.x: installed next to the commands; Fiji: installed in Fiji.app/jars/Lib.
#
#     import bridgeclient
#     def main():
#         value = bridgeclient.call("labels_to_rois", imp, {"slices": "all"})
#     bridgeclient.run(main)
from ij import IJ, Macro
from ij.plugin.frame import Recorder
from java.lang import System
from java.util import ArrayList, HashMap

PROPERTY = "fiji_bridge.service"
TITLE = "Fiji Bridge"
# Same words as fiji_bridge.service.registry.MISSING_SERVICE_MESSAGE (a test keeps them equal).
MISSING_SERVICE_MESSAGE = (
    "Fiji Bridge is not running in this ImageJ.\n"
    "Start ImageJ through fiji_bridge instead:\n"
    "  - in a terminal: fiji-bridge gui   (or: fiji-bridge gui --fiji /path/to/Fiji.app)\n"
    "  - or in Fiji's Python mode / any Python: import fiji_bridge; fiji_bridge.start(mode=\"gui\")\n"
    "then run this command again."
)


class Stop(Exception):
    """Raised after the user has been shown why the command stops."""


def service():
    """The fiji_bridge service; shows how to start it and raises Stop when it is missing."""
    svc = System.getProperties().get(PROPERTY)
    if svc is None:
        IJ.error(TITLE, MISSING_SERVICE_MESSAGE)
        raise Stop()
    return svc


def call(name, *args):
    """Run service command `name`; a trailing dict is passed as keyword options. Returns its value."""
    request = ArrayList()
    request.add(name)
    for arg in args:
        request.add(HashMap(arg) if isinstance(arg, dict) else arg)
    result = service().apply(request)
    if not result.get("ok"):
        IJ.error(TITLE, result.get("error"))
        raise Stop()
    return result.get("value")


def macro_options():
    """The option string of a macro call (run("Cmd", "key=value ...")), or None when a dialog is needed.

    Building a GenericDialog costs about 1 ms even when a macro fills it, which matters for
    interactive commands such as Suggest Contour. While the Recorder is open the dialog still
    runs, so that the call is recorded as usual.
    """
    options = Macro.getOptions()
    # Recorder.getInstance(), not Recorder.record: in Jython that name is the record() method
    if options is None or Recorder.getInstance() is not None:
        return None
    return options


def option_value(options, key, default):
    """`key=value` from a macro option string (ImageJ's own rule: Macro.getValue)."""
    return Macro.getValue(options, key, default)


def option_flag(options, key):
    """True when the checkbox keyword `key` appears as a word in a macro option string."""
    return (" " + key + " ") in (" " + options + " ")


def run(main):
    """Run main(); a Stop (message already shown) ends the command quietly."""
    try:
        main()
    except Stop:
        pass

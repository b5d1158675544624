# Shared Jython helper for Fiji Bridge commands (a library, not a menu command: no underscore in
# its name). ImageJ 1.x: installed next to the commands; Fiji: installed in Fiji.app/jars/Lib.
#
#     import bridgeclient
#     def main():
#         value = bridgeclient.call("labels_to_rois", imp, {"slices": "all"})
#     bridgeclient.run(main)
from ij import IJ, Macro, Prefs
from ij.plugin.frame import Recorder
from java.lang import System
from java.util import ArrayList, HashMap

PROPERTY = "fiji_bridge.service"
PREFS_PREFIX = "fiji_bridge."
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


class DialogMemory(object):
    """The values a command's dialog showed when the user last pressed OK, kept in ij.Prefs as
    fiji_bridge.<command>.<key> (ImageJ writes them to IJ_Prefs.txt when it quits).

    A macro call with options (run("Cmd", "key=value ...")) neither reads nor changes them: its
    dialog starts from the fixed defaults, so that a recorded macro always does the same.

        memory = bridgeclient.DialogMemory(TITLE)
        gd.addChoice("Method", METHODS, memory.get("method", "unet", METHODS))
        ...
        memory.save({"method": method, ...})   # after gd.wasCanceled() was checked
    """

    def __init__(self, command):
        self.prefix = PREFS_PREFIX + command.lower().replace(" ", "_") + "."
        self.active = Macro.getOptions() is None

    def get(self, key, default, choices=None):
        """The remembered value of `key` (as the type of `default`), else `default`; a choice
        no longer among `choices` gives `default` too."""
        text = Prefs.get(self.prefix + key, None) if self.active else None
        if text is None:
            return default
        if isinstance(default, bool):
            return text == "true"
        if isinstance(default, (int, float)):
            try:
                return float(text)
            except ValueError:
                return default
        if choices is not None and text not in choices:
            return default
        return text

    def save(self, values):
        """Remember the confirmed `values` (a dict key -> value) for the next time the dialog opens."""
        if not self.active:
            return
        for key, value in values.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (int, float)):
                value = repr(value)
            Prefs.set(self.prefix + key, value)


def run(main):
    """Run main(); a Stop (message already shown) ends the command quietly."""
    try:
        main()
    except Stop:
        pass

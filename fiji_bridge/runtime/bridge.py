"""The Bridge: one running ImageJ (1.x or Fiji) in this process, and `start()` to get it."""
from __future__ import annotations

import atexit
import os
import threading
import time
from pathlib import Path
from typing import Any

from fiji_bridge.errors import FijiBridgeError, InputError, RuntimeNotAvailable
from fiji_bridge.runtime import display, home as home_mod, jvm, locate, macro
from fiji_bridge.runtime.event_thread import on_event_thread

_lock = threading.RLock()
_running: "Bridge | None" = None
_stopped = False


class Bridge:
    """A running ImageJ with the fiji_bridge service registered in it.

    Attributes: `flavour` ("ImageJ 1.x" or "Fiji"), `mode`, `home` (managed ImageJ home, None
    under Fiji), `gateway` (the pyimagej ImageJ2 gateway under Fiji, else None) and the ImageJ1
    classes `IJ`, `WindowManager`, `ImagePlus`, `RoiManager`, `Menus`, `Prefs`.
    """

    def __init__(self, flavour: str, mode: str, home: Path | None, gateway: Any = None):
        from jpype import JClass

        self.flavour, self.mode, self.home, self.gateway = flavour, mode, home, gateway
        self.IJ = JClass("ij.IJ")
        self.WindowManager = JClass("ij.WindowManager")
        self.ImagePlus = JClass("ij.ImagePlus")
        self.RoiManager = JClass("ij.plugin.frame.RoiManager")
        self.Menus = JClass("ij.Menus")
        self.Prefs = JClass("ij.Prefs")
        self.service: Any = None

    def __repr__(self) -> str:
        return f"<Bridge {self.flavour} {self.imagej_version()} mode={self.mode}>"

    def imagej_version(self) -> str:
        """ImageJ 1.x version string, e.g. '1.53t'."""
        return str(self.IJ.getVersion())

    @property
    def headless(self) -> bool:
        """True when Java runs without a display (no windows, no ROI Manager)."""
        from jpype import JClass

        return bool(JClass("java.awt.GraphicsEnvironment").isHeadless())

    def roi_manager(self, create: bool = True) -> Any:
        """The ROI Manager (created when missing and `create`); None if missing and not `create`."""
        manager = self.RoiManager.getInstance()
        if manager is None and create:
            if self.headless:
                raise RuntimeNotAvailable(
                    "The ROI Manager needs a display; in headless mode fiji_bridge stores ROIs in "
                    "the image overlay or a RoiSet.zip instead.")
            manager = self.RoiManager()
        return manager

    def run_macro(self, code: str, arg: str = "") -> str:
        """Run an ImageJ macro; return its return value, raise MacroError with ImageJ's text on error."""
        return macro.run_macro(code, arg)

    def log_text(self) -> str:
        """Contents of ImageJ's Log window ('' when empty)."""
        return str(self.IJ.getLog() or "")

    def close_images(self) -> None:
        """Close every image without asking to save."""
        for image_id in list(self.WindowManager.getIDList() or []):
            image = self.WindowManager.getImage(image_id)
            if image is not None:
                image.changes = False
                image.close()

    def reset(self) -> None:
        """Back to a clean state: no images, empty ROI Manager, empty Log, no leftover macro state."""
        self.close_images()
        manager = self.RoiManager.getInstance()
        if manager is not None:
            on_event_thread(manager.reset)
        if not self.headless:
            self.IJ.log("\\Clear")
        self.IJ.showStatus("")

    def wait_until_closed(self, poll_s: float = 0.25) -> None:
        """Block until the user closes the ImageJ main window (gui mode) or Java stops."""
        import jpype

        try:
            while self.IJ.getInstance() is not None and self.IJ.getInstance().isShowing():
                time.sleep(poll_s)
        except jpype.JVMNotRunning:  # Java was stopped from outside (e.g. SIGTERM)
            pass

    def shutdown(self) -> None:
        """Close ImageJ's windows and stop the JVM (it cannot be started again in this process)."""
        global _running, _stopped
        with _lock:
            if _running is not self:
                return
            import jpype

            if jpype.isJVMStarted():
                try:
                    self.close_images()
                    if not self.headless:
                        for window in jpype.JClass("java.awt.Window").getWindows():
                            window.dispose()
                finally:
                    _stop_imagej_threads()
                    jpype.shutdownJVM()
            _running, _stopped = None, True


def _stop_imagej_threads() -> None:
    """Stop the thread pool ImageJ's multithreaded filters (Gaussian Blur, ...) leave running:
    its threads are not daemons, so the JVM would wait for them forever on shutdown."""
    import jpype

    try:
        pool = jpype.JClass("ij.util.ThreadUtil").threadPoolExecutor
    except (AttributeError, TypeError, jpype.JException):  # an ImageJ without the shared pool
        return
    if pool is not None:
        pool.shutdownNow()


def _attach(requested: str | None) -> Bridge:
    """Bridge for a JVM started by someone else (e.g. Fiji's Python mode)."""
    from jpype import JClass

    if JClass("java.awt.GraphicsEnvironment").isHeadless():
        mode = "headless"
    else:
        instance = JClass("ij.IJ").getInstance()
        mode = "gui" if instance is not None and instance.isShowing() else "interactive"
    if requested is not None and requested != mode:
        raise FijiBridgeError(f"Java is already running here in {mode} mode; it cannot switch to {requested}.")
    return Bridge("Fiji" if _has_class("org.scijava.Context") else "ImageJ 1.x", mode, None)


def _has_class(name: str) -> bool:
    from jpype import JClass

    try:
        JClass(name)
    except Exception:  # JPype raises a Java ClassNotFoundException wrapper
        return False
    return True


def _start_new(fiji: str | os.PathLike | None, mode: str) -> Bridge:
    target = locate.fiji_target(fiji)
    if mode != "headless":
        display.ensure_display()
    if target is not None:
        return Bridge("Fiji", mode, None, gateway=jvm.start_fiji(target, mode))
    jars = locate.imagej1_jars()
    home = home_mod.ensure_home()
    shims = home / "plugins" / "Fiji_Bridge_Shims.jar"
    jvm.start_imagej1(jars, mode, home, extra_classpath=[shims] if shims.is_file() else [])
    from jpype import JClass

    ImageJ = JClass("ij.ImageJ")
    if mode == "interactive":
        ImageJ(ImageJ.NO_SHOW)
    elif mode == "gui":
        ImageJ()
    else:
        jvm.block_system_exit()
    return Bridge("ImageJ 1.x", mode, home)


def start(fiji: str | os.PathLike | None = None, mode: str | None = None) -> Bridge:
    """Start ImageJ with the fiji_bridge service, or return the one already running.

    `fiji`: a Fiji.app folder or Maven endpoint (default: FIJI_DIR); without one, ImageJ 1.x
    (ij.jar from FIJI_BRIDGE_IJ_JAR or Debian). `mode`: "headless" (default for a new start;
    no windows), "interactive" (a display - Xvfb when none - but no main window) or "gui".
    """
    global _running
    if mode is not None and mode not in jvm.MODES:
        raise InputError(f"mode must be one of {', '.join(jvm.MODES)}, not {mode!r}.")
    with _lock:
        if _running is not None:
            if mode is not None and mode != _running.mode:
                raise FijiBridgeError(
                    f"fiji_bridge is already running in {_running.mode} mode; it cannot also start in "
                    f"{mode} mode in the same Python process (Java starts once per process).")
            return _running
        if _stopped:
            raise FijiBridgeError("fiji_bridge was shut down; Java cannot start twice in one process.")
        bridge = _attach(mode) if jvm.jvm_running() else _start_new(fiji, mode or "headless")
        from fiji_bridge.service import registry

        bridge.service = registry.register(bridge)
        _running = bridge
        atexit.register(bridge.shutdown)
        return bridge


def running() -> Bridge | None:
    """The running Bridge, or None."""
    return _running

"""Start the JVM: ImageJ 1.x through JPype, or Fiji/ImageJ2 through pyimagej."""
from __future__ import annotations

import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from fiji_bridge.errors import RuntimeNotAvailable
from fiji_bridge.runtime.locate import APT_HINT, ImageJ1Jars

MODES = ("headless", "interactive", "gui")
_HEAP = re.compile(r"^\d+[kKmMgG]?$")


_python_handles_ctrl_c = False


def let_python_handle_ctrl_c() -> None:
    """Have Ctrl-C raise KeyboardInterrupt in Python instead of halting the process from Java
    (JPype's default outside interactive sessions), for the JVM started next (ImageJ 1.x or
    Fiji) from the main thread. Only for programs whose main thread polls in Python, as
    `fiji-bridge gui` does: a Python call blocked in Java sees the KeyboardInterrupt only when
    it returns."""
    global _python_handles_ctrl_c
    _python_handles_ctrl_c = True


def heap_size() -> str:
    """The -Xmx value: FIJI_BRIDGE_HEAP (e.g. '8g'), else half of the physical memory."""
    wanted = os.environ.get("FIJI_BRIDGE_HEAP")
    if wanted:
        if not _HEAP.match(wanted):
            raise RuntimeNotAvailable(f"FIJI_BRIDGE_HEAP={wanted!r} is not a heap size like '8g' or '4096m'.")
        return wanted
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "4g"
    return f"{max(512, total // 2 // 2**20)}m"


def imagej1_options(mode: str, home: Path) -> list[str]:
    """JVM options for ImageJ 1.x under fiji_bridge."""
    return [
        f"-Xmx{heap_size()}",
        # a pre-touched first GiB: numpy -> ImagePlus copies don't pay page faults (measured 0.8 -> 2 GB/s)
        "-Xms1g", "-XX:+AlwaysPreTouch",
        f"-Djava.awt.headless={'true' if mode == 'headless' else 'false'}",
        f"-Dplugins.dir={home}",
        "-Dpython.cachedir.skip=true",
        "-Dpython.console.encoding=UTF-8",
        "-Dfile.encoding=UTF-8",
        "-Djava.security.manager=allow",  # block_system_exit needs it from Java 18 on
        "--add-opens=java.desktop/java.awt=ALL-UNNAMED",  # the macro dialog guard reads Dialog.secondaryLoop
    ]


def start_imagej1(jars: ImageJ1Jars, mode: str, home: Path, extra_classpath: list[Path] = ()) -> None:
    """Start the JVM in this process with ij.jar (+ Jython, Groovy, `extra_classpath`) on the class path."""
    import jpype

    try:
        jpype.startJVM(*imagej1_options(mode, home), classpath=[*jars.classpath(), *map(str, extra_classpath)],
                       convertStrings=False)
    except (OSError, jpype.JVMNotFoundException) as exc:
        raise RuntimeNotAvailable(f"Java could not be started ({exc}). Install a JDK with: {APT_HINT}") from exc
    _take_back_ctrl_c()


def _take_back_ctrl_c() -> None:
    """After the JVM started: SIGINT to Python again if ``let_python_handle_ctrl_c`` asked for it
    (as the JVM's -Xrs would, for this signal only). JPype's interrupt=False does it through Java
    and crashed the process at exit when a signal came during finalisation."""
    if _python_handles_ctrl_c and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def start_fiji(target: str, mode: str) -> Any:
    """Start Fiji (a Fiji.app folder or a Maven endpoint) through pyimagej; return the ImageJ2 gateway."""
    import imagej
    import scyjava

    scyjava.config.set_java_constraints(fetch="never")
    scyjava.config.add_options([f"-Xmx{heap_size()}", "--add-opens=java.desktop/java.awt=ALL-UNNAMED"])
    try:
        gateway = imagej.init(target, mode=mode, add_legacy=True)
    except Exception as exc:  # pyimagej raises many kinds (Maven, JVM, UnboundLocalError offline)
        raise RuntimeNotAvailable(
            f"Fiji at '{target}' could not be started through pyimagej: {type(exc).__name__}: {exc}. "
            "A Maven endpoint needs internet access; a local Fiji.app folder works offline.") from exc
    _take_back_ctrl_c()
    return gateway


def jvm_running() -> bool:
    """True when a JVM is already running in this process."""
    import jpype

    return jpype.isJVMStarted()


_BLOCK_EXIT = """
System.setSecurityManager(new SecurityManager() {
    void checkExit(int status) {
        throw new SecurityException("System.exit(" + status + ") was blocked: Java runs inside Python here")
    }
    void checkPermission(java.security.Permission permission) {}
    void checkPermission(java.security.Permission permission, Object context) {}
})
"""


def block_system_exit() -> bool:
    """Turn System.exit into a SecurityException (needs Groovy); True if done.

    Without an ImageJ window, ImageJ 1.x calls System.exit when a command finds no image
    (IJ.getImage), which would end the whole Python process.
    """
    from jpype import JClass

    try:
        shell = JClass("groovy.lang.GroovyShell")()
    except TypeError:  # Groovy is not on the class path
        return False
    sys.stderr.flush()
    saved = os.dup(2)
    try:  # Java prints a deprecation banner for setSecurityManager straight to file descriptor 2
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            shell.evaluate(_BLOCK_EXIT)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return True

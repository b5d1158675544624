"""A display for ImageJ windows: the user's DISPLAY, or a virtual one (Xvfb) started here."""
from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

from fiji_bridge.errors import RuntimeNotAvailable

_xvfb: subprocess.Popen | None = None
_PR_SET_PDEATHSIG = 1  # prctl option: the signal a child gets when its parent ends


def has_display() -> bool:
    """True when windows can be shown (macOS/Windows always, X11 when DISPLAY is set)."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY"))


def ensure_display(private: bool = False) -> str:
    """Return the display to use, starting Xvfb (and setting DISPLAY) when there is none.

    `private`: always use an own Xvfb, so nothing appears on the user's screen.
    """
    global _xvfb
    if _xvfb is not None or (has_display() and not private):
        return os.environ.get("DISPLAY", sys.platform)
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise RuntimeNotAvailable(
            "No display: DISPLAY is not set and Xvfb is not installed. Install it with "
            "'apt-get install -y xvfb xauth', or use mode='headless' (no ROI Manager, no dialogs).")
    read_fd, write_fd = os.pipe()
    _xvfb = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1600x1200x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=_die_with_parent())
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        _xvfb.kill()
        raise RuntimeNotAvailable("Xvfb did not start (no display number reported).")
    os.environ["DISPLAY"] = f":{number}"
    atexit.register(stop_virtual_display)
    return os.environ["DISPLAY"]


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, for a display started from the main thread: make Xvfb end when this process
    does, even when it is killed (SIGTERM, SIGKILL) and cannot stop Xvfb itself."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    return lambda: libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_virtual_display() -> None:
    """Stop the Xvfb started by ensure_display, if any."""
    global _xvfb
    if _xvfb is not None and _xvfb.poll() is None:
        _xvfb.terminate()
        try:
            _xvfb.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _xvfb.kill()
    _xvfb = None

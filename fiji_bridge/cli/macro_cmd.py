"""`fiji-bridge macro FILE.ijm [ARG] [--headless]`: run an ImageJ macro with fiji_bridge, Log to stdout."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fiji_bridge.errors import InputError, RuntimeNotAvailable


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `macro`."""
    p = subparsers.add_parser(
        "macro", help="run an ImageJ macro (.ijm) with fiji_bridge; the Log goes to stdout",
        description="Starts ImageJ with the fiji_bridge service and commands, runs the macro with ARG as "
                    "getArgument(), prints the Log window to stdout and exits with status 1 on a macro "
                    "error (never waits on an error dialog). --headless shows nothing: ImageJ runs on a "
                    "private virtual display (Xvfb), or in Java's headless mode when Xvfb is missing, "
                    "where run(...) commands with dialogs and the ROI Manager do not work.")
    p.add_argument("file", type=Path, help="the macro file (.ijm)")
    p.add_argument("arg", nargs="?", default="", help="the macro's argument (getArgument())")
    p.add_argument("--headless", action="store_true", help="show no windows (for servers and batch runs)")
    p.add_argument("--fiji", metavar="DIR", help="Fiji.app folder (default: $FIJI_DIR, else ImageJ 1.x)")
    p.set_defaults(func=run_macro_command)


def _start(fiji: str | None, headless: bool):
    import fiji_bridge
    from fiji_bridge.install import install
    from fiji_bridge.runtime import display

    mode = "interactive"
    if headless:
        try:
            display.ensure_display(private=True)
        except RuntimeNotAvailable:
            mode = "headless"
    if fiji is None:
        install()
    return fiji_bridge.start(fiji, mode=mode)


def run_macro_command(args: argparse.Namespace) -> int:
    from jpype import JVMNotRunning

    from fiji_bridge.runtime.jvm import jvm_running
    from fiji_bridge.runtime.macro import LogTail, MacroError, run_macro

    if not args.file.is_file():
        raise InputError(f"Macro file not found: {args.file}")
    code = args.file.read_text(encoding="utf-8", errors="replace")
    bridge = _start(args.fiji, args.headless)
    tail = LogTail(lambda text: (sys.stdout.write(text), sys.stdout.flush()))
    status = 0
    try:
        run_macro(code, args.arg, on_poll=tail.poll)
    except MacroError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        status = 1
    except JVMNotRunning:  # Ctrl-C: Java's own handler stops the JVM (and then the process) under the macro
        raise KeyboardInterrupt from None
    finally:
        if jvm_running():  # else Java stopped itself (Ctrl-C, SIGTERM), and the Log is gone with it
            tail.poll()
            bridge.shutdown()
    return status

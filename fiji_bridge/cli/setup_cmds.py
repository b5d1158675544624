"""`fiji-bridge install`, `fiji-bridge gui` and `fiji-bridge doctor`."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add install, gui and doctor."""
    p = subparsers.add_parser(
        "install", help="install the Fiji Bridge commands (Plugins > Fiji Bridge)",
        description="Fiji: copies the commands to Fiji.app/scripts/Plugins/Fiji_Bridge/. ImageJ 1.x (no Fiji "
                    "given): copies them into fiji_bridge's ImageJ home and compiles the Jython/Groovy runners "
                    "(needs javac). Safe to run again.")
    p.add_argument("--fiji", metavar="DIR", help="Fiji.app folder (default: $FIJI_DIR, else ImageJ 1.x)")
    p.set_defaults(func=run_install)

    p = subparsers.add_parser("gui", help="start ImageJ with fiji_bridge and wait until it is closed",
                              description="Starts ImageJ (or the Fiji given) with its main window and the "
                                          "fiji_bridge service, installs the commands first, and returns when "
                                          "ImageJ is closed.")
    p.add_argument("--fiji", metavar="DIR", help="Fiji.app folder (default: $FIJI_DIR, else ImageJ 1.x)")
    p.set_defaults(func=run_gui)

    p = subparsers.add_parser("doctor", help="report what fiji_bridge finds and what is missing",
                              description="Checks Java, ImageJ/Fiji, Jython, Groovy, installed commands, "
                                          "display, torch and models, then starts ImageJ headless once. "
                                          "Exit status 0 when fiji_bridge is usable.")
    p.add_argument("--fiji", metavar="DIR", help="Fiji.app folder (default: $FIJI_DIR)")
    p.add_argument("--no-start", action="store_true", help="do not try to start ImageJ")
    p.set_defaults(func=run_doctor)


def run_install(args: argparse.Namespace) -> int:
    from fiji_bridge.install import install

    report = install(args.fiji)
    state = (f"{len(report.changed)} file(s) written, {len(report.removed)} removed"
             if report.changed or report.removed else "already up to date")
    print(f"Installed {len(report.commands)} command(s) for {report.flavour} in {report.commands_dir} ({state}):")
    for title in report.commands:
        print(f"  Plugins > Fiji Bridge > {title}")
    return 0


def run_gui(args: argparse.Namespace) -> int:
    import fiji_bridge
    from fiji_bridge.install import install
    from fiji_bridge.runtime.jvm import let_python_handle_ctrl_c

    install(args.fiji)
    let_python_handle_ctrl_c()  # Ctrl-C then closes ImageJ below, instead of halting from Java
    bridge = fiji_bridge.start(args.fiji, mode="gui")
    print(f"{bridge.flavour} {bridge.imagej_version()} is running with fiji_bridge; close ImageJ to stop.")
    try:
        bridge.wait_until_closed()
    finally:  # also on Ctrl-C: ImageJ's windows would keep Java, and so this process, alive
        bridge.shutdown()
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from fiji_bridge.doctor import report, run_checks

    text, usable = report(run_checks(args.fiji, start_imagej=not args.no_start))
    print(text)
    return 0 if usable else 1

"""`fiji-bridge` command line: each command group is a module here with register(subparsers)."""
from __future__ import annotations

import argparse
import importlib
import sys

from fiji_bridge import __version__
from fiji_bridge.errors import FijiBridgeError

COMMAND_MODULES = (
    "fiji_bridge.cli.setup_cmds",
    "fiji_bridge.cli.macro_cmd",
    "fiji_bridge.cli.segment",
    "fiji_bridge.cli.exchange",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available command group registered."""
    parser = argparse.ArgumentParser(
        prog="fiji-bridge", description="Deep-learning annotation and nucleus segmentation for ImageJ/Fiji.")
    parser.add_argument("--version", action="version", version=f"fiji_bridge {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a missing dependency inside the module is a real error
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fiji-bridge` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FijiBridgeError as exc:
        print(f"fiji-bridge {args.command}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # an output path that is a file, a folder that cannot be made, a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"fiji-bridge {args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fiji-bridge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

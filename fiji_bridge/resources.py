"""Where the bundled ``models/`` and ``plugin_scripts/`` folders are, and the training data.

A wheel carries them inside the package (``fiji_bridge/models``, ``fiji_bridge/plugin_scripts``;
see ``pyproject.toml``); a source checkout or an editable install has them beside the package,
at the repository's top level.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT = PACKAGE_DIR.parent  # the repository's top level in a source checkout
DSB2018 = CHECKOUT.parent / "shared" / "data" / "dsb2018"  # the training data beside a checkout


def bundled(name: str) -> Path:
    """The folder ``name`` shipped with fiji_bridge: the copy inside the package if there is one,
    else the one at the top of the source checkout (which may be missing; callers say so)."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else CHECKOUT / name

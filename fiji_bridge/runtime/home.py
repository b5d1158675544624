"""The ImageJ home folder fiji_bridge manages: plugins/ (commands, shims), luts/, logs/."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def managed_home() -> Path:
    """FIJI_BRIDGE_HOME, else `.fiji_bridge_home` in a source checkout, else ~/.fiji_bridge/imagej."""
    if os.environ.get("FIJI_BRIDGE_HOME"):
        return Path(os.environ["FIJI_BRIDGE_HOME"]).expanduser().resolve()
    if (_PACKAGE_ROOT / "pyproject.toml").is_file():
        return _PACKAGE_ROOT / ".fiji_bridge_home"
    return Path.home() / ".fiji_bridge" / "imagej"


def glasbey_like_lut() -> bytes:
    """A 256-entry LUT of well separated colours (0 = black), as ImageJ's raw 768-byte .lut."""
    hues = (np.arange(255) * 0.618033988749895) % 1.0
    value = np.where(np.arange(255) % 2 == 0, 1.0, 0.75)
    i = np.floor(hues * 6).astype(int) % 6
    f = hues * 6 - np.floor(hues * 6)
    p, q, t = np.zeros_like(f), 1 - f, f
    rgb = np.select([i[:, None] == k for k in range(6)],
                    [np.stack(c, 1) for c in ((1 + p, t, p), (q, 1 + p, p), (p, 1 + p, t),
                                              (p, q, 1 + p), (t, p, 1 + p), (1 + p, p, q))])
    rgb = np.clip(rgb, 0, 1) * value[:, None]
    table = np.vstack([[0, 0, 0], np.round(rgb * 255)]).astype(np.uint8)
    return table.T.tobytes()


def ensure_home(home: Path | None = None) -> Path:
    """Create the managed home (plugins/, luts/Glasbey.lut, logs/) if needed and return it."""
    home = home or managed_home()
    for sub in ("plugins", "luts", "logs"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    lut = home / "luts" / "Glasbey.lut"
    if not lut.is_file():
        tmp = lut.with_suffix(".lut.tmp")
        tmp.write_bytes(glasbey_like_lut())
        tmp.replace(lut)
    return home

"""Shared fixtures. Tests that need ImageJ use `bridge` (alias `ij`): one ImageJ 1.x per test session,
in interactive mode under a display (Xvfb is started when DISPLAY is unset). If Java or ImageJ is
missing these tests FAIL (error), they are never skipped."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
_DATA_CANDIDATES = (REPO_ROOT.parent / "shared" / "data" / "dsb2018", Path("/work/shared/data/dsb2018"))


@pytest.fixture(scope="session")
def bridge():
    """The running fiji_bridge (ImageJ 1.x, interactive mode), with plugin_scripts installed."""
    import fiji_bridge
    from fiji_bridge.install import install

    install()
    return fiji_bridge.start(mode="interactive")


@pytest.fixture(scope="session")
def ij(bridge):
    """Alias of `bridge`."""
    return bridge


@pytest.fixture
def clean_ij(bridge) -> Iterator:
    """`bridge` with no images open, an empty ROI Manager and Log, before and after the test."""
    bridge.reset()
    yield bridge
    bridge.reset()


@pytest.fixture(scope="session")
def dsb_data() -> Path:
    """The DSB2018 folder (train/, val/, kinds.json): FIJI_BRIDGE_DATA, else ../shared/data/dsb2018."""
    env = os.environ.get("FIJI_BRIDGE_DATA")
    candidates = (Path(env),) if env else _DATA_CANDIDATES
    for path in candidates:
        if (path / "val").is_dir():
            return path
    pytest.fail(f"DSB2018 data not found in {', '.join(map(str, candidates))}; set FIJI_BRIDGE_DATA "
                "to the dsb2018 folder.")


@pytest.fixture(scope="session")
def dsb_val(dsb_data: Path) -> Path:
    """The DSB2018 validation folder (images/<id>.tif, masks/<id>.tif)."""
    return dsb_data / "val"

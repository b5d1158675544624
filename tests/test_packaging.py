"""A wheel (what ``pip install`` from a URL or an index builds) works on its own: it carries
the bundled models and plugin scripts, and the installed package finds them there."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"fiji_bridge.models": "models", "fiji_bridge.plugin_scripts": "plugin_scripts"}


def test_the_package_list_names_every_source_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "fiji_bridge").rglob("__init__.py")}
    assert set(config["packages"]) == on_disk | set(MAPPED)
    assert config["package-dir"] == MAPPED


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """fiji_bridge built as a wheel and installed (without dependencies) into a bare folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist")],
                   check=True, cwd=tmp)
    wheel = next((tmp / "dist").glob("fiji_bridge-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--no-compile", "--target", str(tmp / "site"), str(wheel)],
                   check=True, cwd=tmp)
    return tmp / "site"


def test_the_wheel_carries_weights_cards_scripts_and_shims_but_no_training_state(installed):
    package = installed / "fiji_bridge"
    for name in ("contour_unet/contour_unet.pt", "contour_unet/MODEL_CARD.md", "nucleus/nucleus_unet.pt",
                 "nucleus/MODEL_CARD.md"):
        assert (package / "models" / name).read_bytes() == (ROOT / "models" / name).read_bytes()
    assert not list(package.rglob("resume_checkpoint.pt"))
    scripts = sorted(p.name for p in (ROOT / "plugin_scripts").iterdir() if p.suffix in (".py", ".groovy"))
    assert sorted(p.name for p in (package / "plugin_scripts").iterdir()) == scripts
    assert sorted(p.name for p in (package / "shims").glob("*.java")) == sorted(
        p.name for p in (ROOT / "fiji_bridge" / "shims").glob("*.java"))
    assert (package / "data" / "nuclei_sample.tif").is_file()


def test_the_installed_package_runs_from_its_own_files(installed, tmp_path):
    """Segment the bundled sample and suggest a contour with the installed copy, from a folder
    outside the checkout: every resource must come from inside the installed package."""
    probe = """
import numpy as np
import fiji_bridge
from fiji_bridge.contour import unet
from fiji_bridge.data import sample_image
from fiji_bridge.install import plugin_scripts_dir
from fiji_bridge.nucleaizer.inference import DEFAULT_WEIGHTS
image = sample_image()
labels = fiji_bridge.segment_nuclei(image)
ys, xs = np.nonzero(labels == labels[labels > 0][0])
box = np.array([[xs.min() - 2, ys.min() - 2], [xs.max() + 3, ys.min() - 2], [xs.max() + 3, ys.max() + 3], [xs.min() - 2, ys.max() + 3]], float)
outline = fiji_bridge.suggest_contour(image, box)
for path in (fiji_bridge.__file__, DEFAULT_WEIGHTS, unet.weights_path(), plugin_scripts_dir()):
    print(path)
print(labels.max(), len(outline))
"""
    env = {k: v for k, v in os.environ.items() if k != "FIJI_BRIDGE_CONTOUR_MODEL"}
    env["PYTHONPATH"] = str(installed)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    *paths, counts = out.stdout.splitlines()[-5:]
    for path in paths:
        assert Path(path).resolve().is_relative_to(installed.resolve()), path
    nuclei, vertices = map(int, counts.split())
    assert nuclei > 50 and vertices >= 4

"""`fiji-bridge doctor`: what fiji_bridge finds on this machine and what is missing, in plain words."""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fiji_bridge.errors import FijiBridgeError
from fiji_bridge.resources import bundled
from fiji_bridge.runtime import display, home as home_mod, jvm, locate

MODELS_DIR = bundled("models")
EXPECTED_MODELS = {"contour_unet": "Contour assist", "nucleus": "Nucleus segmentation"}
WEIGHT_SUFFIXES = (".pt", ".pth", ".onnx")


@dataclass
class Check:
    """One line of the report; `needed` checks decide whether fiji_bridge is usable."""

    topic: str
    ok: bool
    detail: str
    needed: bool = True

    def line(self) -> str:
        mark = "ok     " if self.ok else ("MISSING" if self.needed else "note   ")
        return f"[{mark}] {self.topic}: {self.detail}"


def _java_version() -> Check:
    home = locate.java_home()
    java = shutil.which("java") or (str(home / "bin" / "java") if home else None)
    if java is None or not Path(java).exists():
        return Check("Java", False, f"no 'java' found. Install a JDK: {locate.APT_HINT}")
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    first = out.splitlines()[0] if out else "unknown version"
    return Check("Java", True, f"{first} ({java})")


def _javac() -> Check:
    javac = shutil.which("javac")
    return Check("javac", javac is not None,
                 javac or f"not found; needed by 'fiji-bridge install' for the ImageJ 1.x runners. {locate.APT_HINT}")


def _imagej_jars() -> list[Check]:
    try:
        jars = locate.imagej1_jars()
    except FijiBridgeError as exc:
        return [Check("ImageJ 1.x (ij.jar)", False, str(exc))]
    checks = [Check("ImageJ 1.x (ij.jar)", True, str(jars.ij))]
    for topic, jar, package in (("Jython", jars.jython, "jython"), ("Groovy", jars.groovy, "groovy")):
        checks.append(Check(topic, jar is not None, str(jar) if jar else
                            f"jar not found; the {topic} commands cannot run. apt-get install -y {package}"))
    return checks


def _fiji(target: str) -> list[Check]:
    if not Path(target).is_dir():
        return [Check("Fiji", True, f"Maven endpoint {target} (needs internet on first start)")]
    ij_jars = sorted(Path(target, "jars").glob("ij-1.*.jar"))
    version = re.sub(r"^ij-|\.jar$", "", ij_jars[-1].name) if ij_jars else "unknown ImageJ 1.x version"
    installed = sorted(p.stem.replace("_", " ") for p in Path(target, "scripts", "Plugins", "Fiji_Bridge").glob("*_*.*"))
    return [Check("Fiji", True, f"{target} (ImageJ {version})"),
            Check("Installed commands", bool(installed), ", ".join(installed) if installed else
                  f"none; run: fiji-bridge install --fiji {target}")]


def _managed_home() -> list[Check]:
    home = home_mod.managed_home()
    folder = home / "plugins" / "Fiji_Bridge"
    commands = sorted(p.stem.replace("_", " ") for p in folder.glob("*_*.*")) if folder.is_dir() else []
    shims = (home / "plugins" / "Fiji_Bridge_Shims.jar").is_file()
    return [
        Check("Managed ImageJ home", home.is_dir(), str(home) if home.is_dir() else f"{home} (created on first start)",
              needed=False),
        Check("Installed commands", bool(commands) and shims,
              (", ".join(commands) + ("" if shims else "; the Jython/Groovy runners are missing"))
              if commands else "none; run: fiji-bridge install"),
    ]


def _start_imagej() -> Check:
    try:
        from fiji_bridge.runtime.bridge import start
        from jpype import JClass

        bridge = start()
        answer = JClass("groovy.lang.GroovyShell")().evaluate(
            'System.getProperties().get("fiji_bridge.service").apply(["ping"]).value') \
            if locate.imagej1_jars().groovy is not None and bridge.flavour == "ImageJ 1.x" else "pong"
    except Exception as exc:  # the report names any start failure instead of crashing
        return Check("ImageJ start", False, f"{type(exc).__name__}: {exc}")
    return Check("ImageJ start", str(answer) == "pong",
                 f"{bridge.flavour} {bridge.imagej_version()} started ({bridge.mode}); service answers {answer}")


def _display() -> Check:
    if display.has_display():
        return Check("Display", True, f"DISPLAY={os.environ.get('DISPLAY', platform.system())}", needed=False)
    if shutil.which("Xvfb"):
        return Check("Display", True, "none, but Xvfb is installed: interactive mode starts a virtual display",
                     needed=False)
    return Check("Display", False, "none and no Xvfb: only headless mode (no ROI Manager, no dialogs). "
                 "apt-get install -y xvfb xauth", needed=False)


def _torch() -> Check:
    try:
        import torch
    except ImportError:
        return Check("torch", False, "not installed; pip install torch==2.13.0")
    device = f"CUDA ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "CPU"
    return Check("torch", True, f"{torch.__version__}, device {device}, {torch.get_num_threads()} threads")


def _models() -> list[Check]:
    checks = []
    for name, feature in EXPECTED_MODELS.items():
        folder = MODELS_DIR / name
        weights = sorted(p.name for p in folder.glob("*") if p.suffix in WEIGHT_SUFFIXES) if folder.is_dir() else []
        card = (folder / "MODEL_CARD.md").is_file()
        detail = (f"{folder}: {', '.join(weights)}" + ("" if card else " (no MODEL_CARD.md)")) if weights else \
            f"no weights in {folder}; {feature} will not work"
        checks.append(Check(f"Model '{name}' ({feature})", bool(weights), detail, needed=False))
    return checks


def run_checks(fiji: str | None = None, start_imagej: bool = True) -> list[Check]:
    """All checks, in report order."""
    checks = [Check("Python", True, f"{platform.python_version()} ({os.sys.executable})", needed=False),
              _java_version()]
    try:
        target = locate.fiji_target(fiji)
    except FijiBridgeError as exc:
        return [*checks, Check("Fiji", False, str(exc))]
    if target is not None:
        checks += _fiji(target)
    else:
        checks += [_javac(), *_imagej_jars(), *_managed_home()]
    checks += [Check("Java heap", True, f"-Xmx{jvm.heap_size()} (set FIJI_BRIDGE_HEAP to change)", needed=False),
               _display(), _torch(), *_models()]
    if start_imagej and all(c.ok for c in checks if c.needed):
        checks.append(_start_imagej())
    return checks


def report(checks: list[Check]) -> tuple[str, bool]:
    """The printable report and whether fiji_bridge is usable."""
    usable = all(c.ok for c in checks if c.needed)
    verdict = ("fiji_bridge is usable." if usable else
               "fiji_bridge is NOT usable yet: fix the lines marked MISSING (or run: bash scripts/setup.sh).")
    return "\n".join([*(c.line() for c in checks), "", verdict]), usable

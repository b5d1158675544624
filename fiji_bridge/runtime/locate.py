"""Find what fiji_bridge runs on: a Fiji installation, or ImageJ 1.x jars (ij, Jython, Groovy)."""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from fiji_bridge.errors import RuntimeNotAvailable

DEBIAN_JARS = Path("/usr/share/java")
APT_HINT = ("apt-get install -y --no-install-recommends libij-java jython groovy default-jdk xvfb xauth "
            "(or point FIJI_DIR / --fiji at a Fiji.app folder)")
_ENDPOINT = re.compile(r"^[\w.\-]+:[\w.\-]+(:[\w.\-]+)?(\+.*)?$")


@dataclass(frozen=True)
class ImageJ1Jars:
    """Jars of an ImageJ 1.x runtime; jython/groovy are None when not found."""

    ij: Path
    jython: Path | None
    groovy: Path | None

    def classpath(self) -> list[str]:
        return [str(p) for p in (self.ij, self.jython, self.groovy) if p is not None]


def fiji_target(fiji: str | os.PathLike | None = None) -> str | None:
    """Return the Fiji.app folder or Maven endpoint to use (argument, else FIJI_DIR), or None."""
    target = fiji if fiji is not None else os.environ.get("FIJI_DIR") or None
    if target is None:
        return None
    text = str(target)
    if Path(text).expanduser().is_dir():
        return str(Path(text).expanduser().resolve())
    if _ENDPOINT.match(text):
        return text
    raise RuntimeNotAvailable(
        f"Fiji was asked for at '{text}' (from {'--fiji' if fiji is not None else 'FIJI_DIR'}), "
        "but that is neither a Fiji.app folder nor a Maven endpoint like 'sc.fiji:fiji:2.14.0'.")


def _jar(env: str, default: str) -> Path | None:
    path = Path(os.environ.get(env) or DEBIAN_JARS / default)
    return path if path.is_file() else None


def imagej1_jars() -> ImageJ1Jars:
    """Locate ij.jar (FIJI_BRIDGE_IJ_JAR or Debian's), jython.jar and groovy-all.jar."""
    ij = _jar("FIJI_BRIDGE_IJ_JAR", "ij.jar")
    if ij is None:
        where = os.environ.get("FIJI_BRIDGE_IJ_JAR") or DEBIAN_JARS / "ij.jar"
        raise RuntimeNotAvailable(f"ImageJ was not found at {where}. Install it with: {APT_HINT}")
    return ImageJ1Jars(ij=ij, jython=_jar("FIJI_BRIDGE_JYTHON_JAR", "jython.jar"),
                       groovy=_jar("FIJI_BRIDGE_GROOVY_JAR", "groovy-all.jar"))


def java_home() -> Path | None:
    """JAVA_HOME, else the JDK behind `java` on PATH, else None."""
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    return Path(java).resolve().parent.parent if java else None

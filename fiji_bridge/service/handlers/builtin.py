"""Built-in service commands: ping, version, list_commands."""
from __future__ import annotations

from typing import Any

from fiji_bridge.service.commands import command, names


@command("ping")
def ping(bridge: Any, *args: Any, **options: Any) -> str:
    """Answer 'pong' (a liveness check)."""
    return "pong"


@command("version")
def version(bridge: Any, *args: Any, **options: Any) -> str:
    """fiji_bridge and ImageJ versions, e.g. 'fiji_bridge 0.1.0 (ImageJ 1.x 1.53t)'."""
    import fiji_bridge

    return f"fiji_bridge {fiji_bridge.__version__} ({bridge.flavour} {bridge.imagej_version()})"


@command("list_commands")
def list_commands(bridge: Any, *args: Any, **options: Any) -> list[str]:
    """Names of all service commands."""
    return names()

"""Make the service findable from Java: System property "fiji_bridge.service" (+ ImageJ2 ObjectService)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

PROPERTY = "fiji_bridge.service"

# Shown by plugin scripts that find no service; plugin_scripts/ repeats it word for word (tested).
MISSING_SERVICE_MESSAGE = (
    "Fiji Bridge is not running in this ImageJ.\n"
    "Start ImageJ through fiji_bridge instead:\n"
    "  - in a terminal: fiji-bridge gui   (or: fiji-bridge gui --fiji /path/to/Fiji.app)\n"
    "  - or in Fiji's Python mode / any Python: import fiji_bridge; fiji_bridge.start(mode=\"gui\")\n"
    "then run this command again."
)


def log_file(bridge: Any) -> Path:
    """Where service failures are logged (the managed home's logs/, else ~/.fiji_bridge/logs)."""
    base = bridge.home if bridge.home is not None else Path.home() / ".fiji_bridge"
    return base / "logs" / "fiji_bridge.log"


def _configure_logging(path: Path) -> None:
    logger = logging.getLogger("fiji_bridge")
    if any(getattr(h, "baseFilename", None) == str(path) for h in logger.handlers):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _object_service(bridge: Any) -> Any:
    """ImageJ2's ObjectService (Fiji), or None under plain ImageJ 1.x."""
    if bridge.gateway is not None:
        return bridge.gateway.object()
    if bridge.flavour == "Fiji":
        context = bridge.IJ.runPlugIn("org.scijava.Context", "")
        return context.getService("org.scijava.object.ObjectService") if context is not None else None
    return None


def register(bridge: Any) -> Any:
    """Create the service for `bridge`, publish it where scripts look, and return it."""
    from jpype import JClass, JString

    from fiji_bridge.service import commands
    from fiji_bridge.service.dispatcher import Dispatcher, Service

    path = log_file(bridge)
    _configure_logging(path)
    commands.load_handlers()
    service = Service(Dispatcher(bridge, str(path)))
    JClass("java.lang.System").getProperties().put(JString(PROPERTY), service)
    objects = _object_service(bridge)
    if objects is not None:
        objects.addObject(service, JString(PROPERTY))
    return service


def lookup() -> Any:
    """The registered service as Java sees it (None when not registered)."""
    from jpype import JClass

    return JClass("java.lang.System").getProperties().get(PROPERTY)

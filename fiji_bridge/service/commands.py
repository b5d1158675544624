"""The command table: `@command("name")` registers `handler(bridge, *args, **options)`.

Feature modules live in fiji_bridge/service/handlers/; `load_handlers()` imports all of them.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable
from typing import Any

Handler = Callable[..., Any]

_COMMANDS: dict[str, Handler] = {}
_FAILED_MODULES: dict[str, str] = {}
_loaded = False
_load_lock = threading.Lock()
log = logging.getLogger("fiji_bridge.service")


def command(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the service command `name`."""
    def register(handler: Handler) -> Handler:
        previous = _COMMANDS.get(name)
        if previous is not None and previous.__qualname__ != handler.__qualname__:
            raise ValueError(f"service command {name!r} is already registered by {previous.__module__}")
        _COMMANDS[name] = handler
        return handler
    return register


def load_handlers() -> None:
    """Import every module in fiji_bridge.service.handlers once; a module that fails is recorded."""
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if _loaded:
            return
        from fiji_bridge.service import handlers

        for info in pkgutil.iter_modules(handlers.__path__, handlers.__name__ + "."):
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # one broken feature must not take the others down
                _FAILED_MODULES[info.name] = f"{type(exc).__name__}: {exc}"
                log.exception("could not import service handler module %s", info.name)
        _loaded = True


def get(name: str) -> Handler | None:
    """The handler for `name`, or None."""
    load_handlers()
    return _COMMANDS.get(name)


def names() -> list[str]:
    """All registered command names, sorted."""
    load_handlers()
    return sorted(_COMMANDS)


def failed_modules() -> dict[str, str]:
    """Handler modules that could not be imported, with the reason."""
    load_handlers()
    return dict(_FAILED_MODULES)

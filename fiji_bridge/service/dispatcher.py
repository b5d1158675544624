"""The Java-facing service: a java.util.function.Function that dispatches to Python commands.

`apply([name, arg1, ..., optionsMap])` returns a java.util.HashMap {ok, value, error}. It never
throws into Java and never shows a Python traceback: failures become one-line error values
and the traceback goes to the log file. Safe to call from several Java threads at once.
"""
from __future__ import annotations

import logging
import os
import traceback
from typing import Any

from jpype import JClass, JImplements, JOverride, JString

from fiji_bridge.errors import FijiBridgeError
from fiji_bridge.service import commands
from fiji_bridge.service.convert import to_java, to_python

log = logging.getLogger("fiji_bridge.service")

_HashMap = JClass("java.util.HashMap")
_Map = JClass("java.util.Map")
_List = JClass("java.util.List")
_TRUE, _FALSE = JClass("java.lang.Boolean").TRUE, JClass("java.lang.Boolean").FALSE
_KEY_OK, _KEY_VALUE, _KEY_ERROR = JString("ok"), JString("value"), JString("error")


_SUCCESS = _HashMap(4)
_SUCCESS.put(_KEY_OK, _TRUE)


def _failure(message: str) -> Any:
    result = _HashMap(4)
    result.put(_KEY_OK, _FALSE)
    result.put(_KEY_ERROR, JString(message))
    return result


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def parse_request(request: Any) -> tuple[str, list[Any], dict[str, Any]]:
    """[name, *args, optional options Map] (Java List, array or Python sequence) -> (name, args, options)."""
    if isinstance(request, _List):
        request = request.toArray()
    # indexing is several times faster than iterating over a Java array or list through JPype
    items = [request[i] for i in range(len(request))] if request is not None else []
    if not items:
        raise FijiBridgeError("The service was called without a command name: use svc.apply(['ping']).")
    options: dict[str, Any] = {}
    if len(items) > 1 and isinstance(items[-1], _Map):
        options = to_python(items.pop())
    name = to_python(items[0])
    if not isinstance(name, str):
        raise FijiBridgeError(f"The first item of a service call must be a command name, not {name!r}.")
    return name, [to_python(item) for item in items[1:]], options


class Dispatcher:
    """Runs one service call for a bridge and turns its outcome into a result map."""

    def __init__(self, bridge: Any, log_path: str):
        self.bridge = bridge
        self.log_path = log_path
        self.debug = os.environ.get("FIJI_BRIDGE_DEBUG", "") not in ("", "0")

    def call(self, request: Any) -> Any:
        name = "?"
        try:
            name, args, options = parse_request(request)
            handler = commands.get(name)
            if handler is None:
                raise FijiBridgeError(self._unknown(name))
            value = to_java(handler(self.bridge, *args, **options))
            result = _SUCCESS.clone()  # one Java call instead of a constructor and a put
            result.put(_KEY_VALUE, value)
            return result
        except FijiBridgeError as exc:
            return _failure(_one_line(exc) or type(exc).__name__)
        except BaseException as exc:  # never let anything escape into Java
            return _failure(self._internal_error(name, exc))

    def _unknown(self, name: str) -> str:
        message = f"Unknown fiji_bridge command '{name}'. Known commands: {', '.join(commands.names())}."
        failed = commands.failed_modules()
        if failed:
            message += " Could not load: " + "; ".join(f"{m} ({why})" for m, why in failed.items())
        return message

    def _internal_error(self, name: str, exc: BaseException) -> str:
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        log.error("service command %r failed\n%s", name, details)
        if self.debug:
            try:
                self.bridge.IJ.log(f"fiji_bridge: command '{name}' failed\n{details}")
            except Exception:  # the Log window is a courtesy in debug mode only
                pass
        return _one_line(f"The fiji_bridge command '{name}' failed ({type(exc).__name__}: {exc}). "
                         f"Details are in {self.log_path}.")


@JImplements("java.util.function.Function")
class Service:
    """The object Java scripts hold: `svc.apply([name, args..., options])`."""

    def __init__(self, dispatcher: Dispatcher):
        self.dispatcher = dispatcher

    @JOverride
    def apply(self, request: Any) -> Any:
        return self.dispatcher.call(request)

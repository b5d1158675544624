"""Reading a command's options, which arrive from a dialog, a recorded macro or Python."""
from __future__ import annotations

from typing import Any

import jpype

from fiji_bridge.errors import InputError


def flag(value: Any) -> bool:
    """A checkbox option: a Python/Java bool, or text such as "true", "1", "yes" from a macro."""
    if isinstance(value, (str, jpype.JString)):
        return str(value).strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def choice(options: dict[str, Any], key: str, allowed: tuple[str, ...], *, command: str = "") -> str:
    """A choice option (case-insensitive, '_' read as ' '); the first allowed value by default."""
    value = str(options.get(key, allowed[0])).strip().lower().replace("_", " ")
    if value not in allowed:
        prefix = f"{command}: " if command else ""
        raise InputError(f"{prefix}option {key}={value!r} is not one of: {', '.join(allowed)}")
    return value

"""Plain values between Java and Python for service calls (Java objects such as ImagePlus pass as they are)."""
from __future__ import annotations

from pathlib import PurePath
from typing import Any

import numpy as np
from jpype import JArray, JClass, JObject, JString

_Boolean = JClass("java.lang.Boolean")
_Number = JClass("java.lang.Number")
_Integer = JClass("java.lang.Integer")
_Long = JClass("java.lang.Long")
_Double = JClass("java.lang.Double")
_Float = JClass("java.lang.Float")
_String = JClass("java.lang.String")
_List = JClass("java.util.List")
_Map = JClass("java.util.Map")
_ArrayList = JClass("java.util.ArrayList")
_HashMap = JClass("java.util.HashMap")
_INT32 = range(-(2**31), 2**31)


def to_python(value: Any) -> Any:
    """Java String/Boolean/Number/List/Map -> str/bool/int|float/list/dict; anything else unchanged."""
    if value is None:
        return None
    if isinstance(value, _String):
        return str(value)
    if isinstance(value, _Boolean):
        return bool(value)
    if isinstance(value, _Number):
        return float(value) if isinstance(value, (_Double, _Float)) else int(value)
    if isinstance(value, _List):
        return [to_python(item) for item in value]
    if isinstance(value, _Map):
        return {str(k): to_python(v) for k, v in value.entrySet()}
    return value


def to_java(value: Any) -> Any:
    """Python values -> Java objects: bool, int, float, list/tuple, dict, numpy arrays/scalars; str and Path
    stay Python str, which JPype stores as java.lang.String."""
    if value is None or isinstance(value, JObject):
        return value
    if isinstance(value, bool):
        return _Boolean.valueOf(value)
    if isinstance(value, np.generic):
        return to_java(value.item())
    if isinstance(value, int):
        return _Integer.valueOf(value) if value in _INT32 else _Long.valueOf(value)
    if isinstance(value, float):
        return _Double.valueOf(value)
    if isinstance(value, str):
        return value  # JPype turns it into a java.lang.String where it is stored
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, np.ndarray):
        return JArray.of(np.ascontiguousarray(value))
    if isinstance(value, (list, tuple)):
        out = _ArrayList(len(value))
        for item in value:
            out.add(to_java(item))
        return out
    if isinstance(value, dict):
        out = _HashMap()
        for key, item in value.items():
            out.put(JString(str(key)), to_java(item))
        return out
    raise TypeError(f"a Python {type(value).__name__} cannot be passed to Java")

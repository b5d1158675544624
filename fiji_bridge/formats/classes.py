"""Class names for ROI groups (AnnotatorJ: group n = class n, default name ``Class_NN``)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from fiji_bridge.annotation import Annotation

UNCLASSIFIED = "unclassified"


def class_name(group: int, names: Mapping[int, str] | None = None) -> str:
    """Name of a class: from ``names``, else ``Class_NN`` (``unclassified`` for group 0)."""
    if names and group in names:
        return names[group]
    return UNCLASSIFIED if group == 0 else f"Class_{group:02d}"


def class_folder(group: int) -> str:
    """AnnotatorJ's per-class subfolder name, ``Class_NN``."""
    return f"Class_{group:02d}"


def groups_in(anns: Iterable[Annotation]) -> list[int]:
    """Sorted classes (groups >= 1) used by ``anns``."""
    return sorted({int(a.group) for a in anns if a.group > 0})

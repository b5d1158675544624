"""fiji_bridge: deep-learning annotation and nucleus segmentation for ImageJ/Fiji, served from Python.

Heavy parts (the JVM, torch) load only when first used.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from fiji_bridge.annotation import Annotation

__version__ = "0.1.0"

_LAZY = {
    "start": "fiji_bridge.runtime.bridge",
    "Bridge": "fiji_bridge.runtime.bridge",
    "labels_to_annotations": "fiji_bridge.rois.labels",
    "annotations_to_labels": "fiji_bridge.rois.labels",
    "read_roiset": "fiji_bridge.rois.roiset",
    "write_roiset": "fiji_bridge.rois.roiset",
    "suggest_contour": "fiji_bridge.contour.api",
    "segment_nuclei": "fiji_bridge.nucleaizer.pipeline",
}

__all__ = ["Annotation", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fiji_bridge' has no attribute {name!r}")

"""Annotation exchange (pure Python): training-data exports, imports, AnnotatorJ folders, OpSeF.

- ``exports.export_annotations``: ROIs of images -> label / layered / binary masks, box CSVs,
  YOLO, COCO, in AnnotatorJ's folder layout (``annotatorj``), all files written atomically.
- ``imports.import_annotations``: masks, box CSVs, YOLO, COCO or ROI zips -> ROIs;
  ``imports.write_roisets`` writes ``<img>_ROIs.zip`` files.
- ``opsef.load_opsef`` / ``opsef.export_opsef``: OpSeF FilePairList projects <-> a stack with
  per-slice ROIs.
- Building blocks: ``masks`` (rasterising), ``bbox``, ``coco``, ``yolo``, ``classes``,
  ``images`` (reading / TIFF writing), ``plane_files`` (``<img>-NNNN`` files of a stack's
  planes), ``atomic`` (all-or-nothing writes).
"""
from __future__ import annotations

from fiji_bridge.formats.coco import ImageAnnotations, coco_dataset, read_coco
from fiji_bridge.formats.exports import export_annotations, pair_rois_with_images
from fiji_bridge.formats.imports import import_annotations, write_roisets
from fiji_bridge.formats.masks import binary_mask, label_mask, layered_stack
from fiji_bridge.formats.opsef import export_opsef, load_opsef, read_pair_list

__all__ = [
    "ImageAnnotations", "binary_mask", "coco_dataset", "export_annotations", "export_opsef",
    "import_annotations", "label_mask", "layered_stack", "load_opsef", "pair_rois_with_images",
    "read_coco", "read_pair_list", "write_roisets",
]

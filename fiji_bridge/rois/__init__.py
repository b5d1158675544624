"""Pixel-exact ROI geometry (pure numpy): label images <-> annotations, ROI files."""
from fiji_bridge.rois.labels import annotation_mask, annotations_to_labels, labels_to_annotations, mask_outlines
from fiji_bridge.rois.roiset import read_roiset, write_roiset

__all__ = [
    "annotation_mask", "annotations_to_labels", "labels_to_annotations", "mask_outlines",
    "read_roiset", "write_roiset",
]

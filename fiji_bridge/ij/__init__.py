"""Conversions that need the running JVM (start it with fiji_bridge.start() first).

- images: ImagePlus <-> numpy / xarray.DataArray (8/16/32-bit, RGB, stacks, hyperstacks).
- rois: Annotation <-> ij.gui.Roi, the ROI Manager and image overlays.
"""
from fiji_bridge.ij.images import (
    current_plane,
    image_dims,
    imageplus_to_numpy,
    imageplus_to_xarray,
    numpy_to_imageplus,
    xarray_to_imageplus,
)
from fiji_bridge.ij.rois import (
    annotation_to_roi,
    annotations_to_overlay,
    annotations_to_rois,
    overlay_to_annotations,
    roi_to_annotation,
    rois_from_manager,
    rois_to_annotations,
    rois_to_manager,
    store_annotations,
)

__all__ = [
    "annotation_to_roi", "annotations_to_overlay", "annotations_to_rois", "current_plane", "image_dims",
    "imageplus_to_numpy", "imageplus_to_xarray", "numpy_to_imageplus", "overlay_to_annotations",
    "roi_to_annotation", "rois_from_manager", "rois_to_annotations", "rois_to_manager", "store_annotations", "xarray_to_imageplus",
]

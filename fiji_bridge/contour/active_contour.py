"""Active-contour refinement of an initial mask (scikit-image morphological Chan-Vese)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import morphological_chan_vese

from fiji_bridge.contour.crop import normalise, to_grey
from fiji_bridge.errors import InputError

ITERATIONS = 40


def refine(crop: np.ndarray, init_region: np.ndarray, closed: bool) -> np.ndarray:
    """Evolve the init (a line is thickened to a 5-px band) on the normalised grey crop
    (at least 2x2 px: Chan-Vese takes image gradients)."""
    if min(crop.shape[:2]) < 2:
        raise InputError(f"the search region around the initial contour is only {crop.shape[1]}x{crop.shape[0]} px; "
                         "active_contour needs at least 2x2 px: increase max_distance")
    start = init_region if closed else ndi.binary_dilation(init_region, iterations=2)
    grey = normalise(to_grey(crop))
    return morphological_chan_vese(grey, ITERATIONS, init_level_set=start.astype(np.int8), smoothing=1).astype(bool)

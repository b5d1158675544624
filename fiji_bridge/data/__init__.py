"""Bundled sample data: a synthetic fluorescence image of nuclei (``nuclei_sample.tif``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

SAMPLE_NUCLEI = Path(__file__).with_name("nuclei_sample.tif")


def sample_image() -> np.ndarray:
    """The bundled 8-bit sample image (512 x 512, synthetic fluorescent nuclei)."""
    return tifffile.imread(SAMPLE_NUCLEI)

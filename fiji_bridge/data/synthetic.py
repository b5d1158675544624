"""Synthetic fluorescence-like nucleus images with known labels (for the demo and tests).

Nuclei are ellipses with random size, elongation and orientation, a textured interior
(smoothed noise), blurred by a Gaussian point-spread function, on a slightly uneven
background with shot and read noise. Centres are drawn with a minimum spacing so that nuclei
touch and form small clumps without hiding each other.

    python -m fiji_bridge.data.synthetic   # rewrites fiji_bridge/data/nuclei_sample.tif
"""
from __future__ import annotations

import numpy as np
import tifffile
from scipy import ndimage as ndi

from fiji_bridge.data import SAMPLE_NUCLEI


def synthetic_nuclei(shape: tuple[int, int] = (512, 512), *, count: int = 120, diameter: float = 22.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 image, uint16 labels) of ``count`` nuclei of mean ``diameter`` px (fewer if they do not fit)."""
    rng = np.random.default_rng(seed)
    height, width = shape
    labels = np.zeros(shape, np.uint16)
    brightness = np.zeros(shape, np.float32)
    texture = ndi.gaussian_filter(rng.normal(size=shape).astype(np.float32), diameter / 8)
    texture /= texture.std() + 1e-6
    centres: list[tuple[float, float, float]] = []
    for _ in range(count * 20):
        if len(centres) == count:
            break
        radius = diameter / 2 * rng.uniform(0.75, 1.3)
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        if any((cy - y) ** 2 + (cx - x) ** 2 < (0.9 * (radius + r)) ** 2 for y, x, r in centres):
            continue
        centres.append((cy, cx, radius))
        elongation, angle = rng.uniform(1.0, 1.5), rng.uniform(0, np.pi)
        a, b = radius * np.sqrt(elongation), radius / np.sqrt(elongation)
        y0, y1 = max(0, int(cy - a - 2)), min(height, int(cy + a + 3))
        x0, x1 = max(0, int(cx - a - 2)), min(width, int(cx + a + 3))
        yy, xx = np.mgrid[y0:y1, x0:x1] + 0.5
        u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
        v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
        inside = (u / a) ** 2 + (v / b) ** 2 <= 1
        free = inside & (labels[y0:y1, x0:x1] == 0)
        labels[y0:y1, x0:x1][free] = len(centres)
        brightness[y0:y1, x0:x1][free] = rng.uniform(0.35, 1.0)
    signal = brightness * (1 + 0.15 * texture)
    signal = ndi.gaussian_filter(signal, 1.2)
    yy, xx = np.mgrid[0:height, 0:width]
    background = 0.06 + 0.03 * np.sin(yy / height * np.pi) * np.cos(xx / width * np.pi)
    photons = rng.poisson(np.clip(signal + background, 0, None) * 150).astype(np.float32) / 150
    image = photons + rng.normal(0, 0.01, shape)
    return np.clip(image * 220, 0, 255).round().astype(np.uint8), labels


def main() -> None:
    image, _ = synthetic_nuclei()
    tifffile.imwrite(SAMPLE_NUCLEI, image, compression="zlib", imagej=False,
                     description="fiji_bridge synthetic nuclei sample (seed 0)")
    print(f"wrote {SAMPLE_NUCLEI} {image.shape} {image.dtype}")


if __name__ == "__main__":
    main()

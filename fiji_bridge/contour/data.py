"""Training/validation samples for the guided U-Net from a DSB2018-style folder (images/, masks/)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage as ndi

from fiji_bridge.contour.crop import INPUT_SIZE, extract, make_window, network_input, resize, to_grey
from fiji_bridge.contour.inits import CLOSED, INIT_KINDS, simulate, touching_labels

MIN_AREA = 10
KIND_WEIGHTS = (0.45, 0.3, 0.25)  # polygon, line, box


@dataclass
class Samples:
    """uint8 arrays: inputs (N, 3, S, S), targets (N, 2, S, S) = object pointed at, any nucleus."""

    inputs: np.ndarray
    targets: np.ndarray
    kinds: np.ndarray  # index into INIT_KINDS

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, inputs=self.inputs, targets=self.targets, kinds=self.kinds)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "Samples":
        with np.load(path) as z:
            return cls(z["inputs"], z["targets"], z["kinds"])


def load_pair(folder: Path, image_id: str) -> tuple[np.ndarray, np.ndarray]:
    """(image, labels) of one DSB2018 sample."""
    return tifffile.imread(folder / "images" / f"{image_id}.tif"), tifffile.imread(folder / "masks" / f"{image_id}.tif")


def image_ids(folder: Path) -> list[str]:
    return sorted(p.stem for p in (folder / "images").glob("*.tif"))


def _to_uint8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)


def build(folder: Path, rng: np.random.Generator, per_object: int = 2, progress: bool = True) -> Samples:
    """``per_object`` simulated inits (one more for touching objects) per object of area >= MIN_AREA."""
    inputs, targets, kinds = [], [], []
    ids = image_ids(folder)
    for i, image_id in enumerate(ids):
        image, labels = load_pair(folder, image_id)
        grey = to_grey(image)
        slices = ndi.find_objects(labels)
        touching = touching_labels(labels)
        for k, sl in enumerate(slices, start=1):
            if sl is None:
                continue
            obj = labels == k
            if obj.sum() < MIN_AREA:
                continue
            for _ in range(per_object + (k in touching)):
                kind = int(rng.choice(len(INIT_KINDS), p=KIND_WEIGHTS))
                name = INIT_KINDS[kind]
                init = simulate(name, obj, rng, labels.shape)
                max_distance = 17.0 if rng.random() < 0.6 else float(rng.uniform(8, 30))
                win = make_window(init, labels.shape, max_distance)
                x = network_input(grey, init, CLOSED[name], win)
                lab = extract(labels, win)
                y = np.stack([resize((lab == k).astype(np.float32), INPUT_SIZE),
                              resize((lab > 0).astype(np.float32), INPUT_SIZE)])
                inputs.append(_to_uint8(x))
                targets.append(_to_uint8(y))
                kinds.append(kind)
        if progress and (i % 50 == 0 or i == len(ids) - 1):
            print(f"samples: image {i + 1}/{len(ids)}, {len(inputs)} samples", flush=True)
    return Samples(np.stack(inputs), np.stack(targets), np.array(kinds, np.uint8))

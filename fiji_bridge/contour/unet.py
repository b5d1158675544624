"""Guided U-Net inference: load the shipped weights once per process and predict in a window."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fiji_bridge.contour.crop import INPUT_SIZE, Window, network_input
from fiji_bridge.contour.model import GuidedUNet
from fiji_bridge.errors import FijiBridgeError
from fiji_bridge.layers import dihedral, fold_batchnorm, undo_dihedral
from fiji_bridge.resources import bundled

MODEL_ENV = "FIJI_BRIDGE_CONTOUR_MODEL"
DEFAULT_WEIGHTS = bundled("models") / "contour_unet" / "contour_unet.pt"
INFERENCE_THREADS = 1  # a 64 px input gains nothing from more; on a busy CPU more threads cost 5x
# Test-time augmentation: the input as is and turned by 90 degrees (``dihedral`` 0 and 1), run as
# one batch, probabilities averaged (+0.002-0.003 IoU on every subset of all val objects for about
# 3 ms; see the README).
TTA_TRANSFORMS = (0, 1)

_lock = threading.Lock()
_cache: dict[Path, GuidedUNet] = {}


def weights_path() -> Path:
    """The weights file: $FIJI_BRIDGE_CONTOUR_MODEL if set, else models/contour_unet/contour_unet.pt."""
    return Path(os.environ.get(MODEL_ENV) or DEFAULT_WEIGHTS)


def load_model(path: Path | None = None) -> GuidedUNet:
    """The network for ``path`` (default: weights_path()), loaded once per process, batch norm folded, for inference."""
    path = Path(path or weights_path()).resolve()
    with _lock:
        model = _cache.get(path)
        if model is None:
            if not path.is_file():
                raise FijiBridgeError(f"the contour model weights are missing: {path} "
                                      "(train them with `python -m fiji_bridge.contour.train`)")
            saved = torch.load(path, map_location="cpu", weights_only=True)
            model = GuidedUNet(int(saved["meta"]["width"]))
            model.load_state_dict({k: v.float() if v.is_floating_point() else v
                                   for k, v in saved["state_dict"].items()})
            with torch.no_grad():
                model = fold_batchnorm(model.eval()).to(memory_format=torch.channels_last)
            _cache[path] = model
        return model


@torch.inference_mode()
def predict(image: np.ndarray, init: np.ndarray, closed: bool, win: Window) -> np.ndarray:
    """(2, side, side) probabilities in the window: the object pointed at, any nucleus."""
    x = torch.from_numpy(network_input(image, init, closed, win))[None]
    batch = torch.cat([dihedral(x, k) for k in TTA_TRANSFORMS])
    model = load_model()
    threads = torch.get_num_threads()
    torch.set_num_threads(INFERENCE_THREADS)
    try:
        each = torch.sigmoid(model(batch.contiguous(memory_format=torch.channels_last)))
    finally:
        torch.set_num_threads(threads)
    prob = torch.stack([undo_dihedral(each[i : i + 1], k) for i, k in enumerate(TTA_TRANSFORMS)]).mean(0)
    if win.side != INPUT_SIZE:
        prob = F.interpolate(prob, size=(win.side, win.side), mode="bilinear", align_corners=False)
    return prob[0].numpy()

"""Load the nucleus model once per process and predict its probability maps."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from fiji_bridge.errors import InputError
from fiji_bridge.layers import dihedral, fold_batchnorm, undo_dihedral
from fiji_bridge.nucleaizer.model import UNet
from fiji_bridge.resources import bundled

DEFAULT_WEIGHTS = bundled("models") / "nucleus" / "nucleus_unet.pt"

_CACHE: dict[str, "NucleusModel"] = {}
_LOCK = threading.Lock()


@dataclass
class NucleusModel:
    """The network and the nucleus diameter (pixels) that images are rescaled to for it.

    ``target_diameter`` is the config's ``inference_diameter`` (tuned on val) when present,
    else the training normalisation ``target_diameter``.
    """

    net: UNet
    target_diameter: float
    config: dict


def load_model(path: str | Path | None = None) -> NucleusModel:
    """Load weights (default: the bundled model), cached per path and process."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    key = str(path.resolve())
    with _LOCK:
        if key not in _CACHE:
            if not path.is_file():
                raise InputError(f"nucleus model weights not found: {path}")
            _CACHE[key] = _read_model(path)
        return _CACHE[key]


def _read_model(path: Path) -> NucleusModel:
    """The model saved in ``path``; an InputError naming the file when it is not one."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - torch.load fails in many ways on a file it cannot read
        raise InputError(f"cannot read nucleus model {path}: not a torch file ({_first_line(exc)})") from exc
    if not (isinstance(saved, dict) and isinstance(saved.get("config"), dict)
            and isinstance(saved.get("state_dict"), dict)):
        raise InputError(f"{path} is not a nucleus model: it holds no 'config' and 'state_dict' "
                         "(the bundled nucleus_unet.pt is one)")
    config = saved["config"]
    try:
        net = UNet(tuple(config["widths"]))
        target = float(config.get("inference_diameter", config["target_diameter"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path} is not a nucleus model: its config is unusable ({_first_line(exc)})") from exc
    try:
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in saved["state_dict"].items()})
    except (RuntimeError, AttributeError) as exc:
        raise InputError(f"{path} is not a nucleus model: its weights do not fit the network its config "
                         "describes") from exc
    fold_batchnorm(net.eval()).to(memory_format=torch.channels_last)
    return NucleusModel(net, target, config)


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (KeyError's quoted key as 'missing ...')."""
    if isinstance(exc, KeyError):
        return f"missing {exc}"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def predict_maps(model: NucleusModel, image: torch.Tensor, *, tta: bool = False) -> torch.Tensor:
    """(3, H, W) float image in [0, 1] -> (3, H, W) probabilities: foreground, boundary, distance.

    The image is reflect-padded to a multiple of the network stride; with ``tta`` the
    sigmoid outputs of the 8 flips/rotations are averaged. Channels-last memory layout
    (about twice as fast on CPU).
    """
    height, width = image.shape[-2:]
    stride = model.net.stride
    pad_h, pad_w = (-height) % stride, (-width) % stride
    x = image[None]
    if pad_h or pad_w:
        mode = "reflect" if min(height, width) > max(pad_h, pad_w) else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    transforms = range(8) if tta else range(1)
    with torch.inference_mode():
        total = None
        for k in transforms:
            batch = dihedral(x, k).contiguous(memory_format=torch.channels_last)
            out = undo_dihedral(torch.sigmoid(model.net(batch)), k)
            total = out if total is None else total + out
    return (total / len(transforms))[0, :, :height, :width]


def resize_tensor(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (C, H, W), anti-aliased when shrinking."""
    if tuple(x.shape[-2:]) == tuple(shape):
        return x
    shrink = shape[0] < x.shape[-2] or shape[1] < x.shape[-1]
    return F.interpolate(x[None], size=shape, mode="bilinear", align_corners=False, antialias=shrink)[0]


def as_tensor(image: np.ndarray) -> torch.Tensor:
    """(Y, X, 3) float32 -> (3, Y, X) tensor sharing no memory with the input."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))

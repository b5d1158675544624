"""Small U-Net predicting three maps per pixel: foreground, nucleus boundary and normalised distance.

The maps (logits) feed a seeded watershed (see ``postprocess.py``). Input: float32 (N, 3, H, W)
in [0, 1], H and W multiples of ``UNet.stride``.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

OUTPUT_CHANNELS = ("foreground", "boundary", "distance")
TARGET_DIAMETER = 20.0  # nucleus diameter (px) training images are rescaled to
SCALE_RANGE = (0.7, 1.4)  # random rescaling of training crops around that size


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net with ``len(widths) - 1`` poolings; bilinear up-sampling, skip concatenation."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128), in_channels: int = 3) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.stride = 2 ** (len(widths) - 1)
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.down.append(_block(cin, w))
            cin = w
        self.up = nn.ModuleList(
            _block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(len(widths) - 1))
        )
        self.head = nn.Conv2d(widths[0], len(OUTPUT_CHANNELS), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for block in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)

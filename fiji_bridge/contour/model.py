"""The guided U-Net: image crop + the person's initial contour in, the object pointed at out."""
from __future__ import annotations

import torch
from torch import nn

IN_CHANNELS = 3  # normalised grey crop, filled init, closeness to the init stroke
OUT_CHANNELS = 2  # logit of the object pointed at, logit of any nucleus (for next candidates)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class GuidedUNet(nn.Module):
    """A small 4-level U-Net; input (B, 3, S, S) with S divisible by 8, output (B, 2, S, S) logits."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = [width, width * 2, width * 4, width * 8]
        self.enc = nn.ModuleList([_block(IN_CHANNELS, w[0]), _block(w[0], w[1]), _block(w[1], w[2])])
        self.bottom = _block(w[2], w[3])
        self.up = nn.ModuleList([nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2) for i in (2, 1, 0)])
        self.dec = nn.ModuleList([_block(w[i] * 2, w[i]) for i in (2, 1, 0)])
        self.head = nn.Conv2d(w[0], OUT_CHANNELS, 1)
        self.pool = nn.MaxPool2d(2)
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.enc:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.head(x)

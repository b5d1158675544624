"""Inference-time helpers shared by the contour and nucleus networks: batch-norm folding and the
8 flips/rotations used for test-time augmentation."""
from __future__ import annotations

import torch
from torch import nn


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm into the convolution before it (inference only; same outputs, faster).

    Applies to Conv2d -> BatchNorm2d pairs that follow each other inside an nn.Sequential.
    """
    for block in model.modules():
        if not isinstance(block, nn.Sequential):
            continue
        layers = list(block)
        for i, (conv, bn) in enumerate(zip(layers, layers[1:])):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                                  padding=conv.padding, dilation=conv.dilation, groups=conv.groups)
                fused.weight.data = conv.weight.data * scale[:, None, None, None]
                bias = conv.bias.data if conv.bias is not None else torch.zeros_like(bn.running_mean)
                fused.bias.data = (bias - bn.running_mean) * scale + bn.bias
                block[i], block[i + 1] = fused, nn.Identity()
    return model


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th of the 8 flips/rotations of the last two axes (k = 0 identity, 1-3 quarter turns,
    4-7 the same followed by a left-right flip)."""
    x = torch.rot90(x, k % 4, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if k >= 4 else x


def undo_dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of ``dihedral(x, k)``."""
    if k >= 4:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, -(k % 4), dims=(-2, -1))

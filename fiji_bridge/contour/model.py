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


def _layer_groups() -> list[tuple[str, str | None, tuple[str, ...], str]]:
    """(conv module, its batch norm or None, input groups (concatenated), output group) of every conv layer."""
    def block(name: str, source: tuple[str, ...], group: str) -> list:
        return [(f"{name}.0", f"{name}.1", source, f"{group}.mid"), (f"{name}.3", f"{name}.4", (f"{group}.mid",), f"{group}.out")]

    layers = []
    for level in range(3):
        layers += block(f"enc.{level}", ("input" if level == 0 else f"enc{level - 1}.out",), f"enc{level}")
    layers += block("bottom", ("enc2.out",), "bottom")
    for k in range(3):
        layers.append((f"up.{k}", None, ("bottom.out" if k == 0 else f"dec{k - 1}.out",), f"up{k}"))
        layers += block(f"dec.{k}", (f"up{k}", f"enc{2 - k}.out"), f"dec{k}")
    layers.append(("head", None, ("dec2.out",), "output"))
    return layers


def _group_sizes(model: GuidedUNet) -> dict[str, int]:
    """Channels of every feature-map group, read from the layers that produce them."""
    sizes = {"input": IN_CHANNELS}
    for layer, _, _, output in _layer_groups():
        sizes[output] = model.get_submodule(layer).out_channels
    return sizes


def widened(model: GuidedUNet, width: int, seed: int = 0, noise: float = 0.01) -> GuidedUNet:
    """A GuidedUNet of a larger ``width`` computing the same function (Net2WiderNet).

    Each new channel copies a randomly chosen old one of its group; the layers reading a copied
    channel share its weight among the copies. ``noise`` (a fraction of each weight tensor's
    standard deviation) is added so the copies can diverge in training; 0 keeps the function exact.
    """
    if width < model.width:
        raise ValueError(f"cannot widen a width-{model.width} network to {width}")
    rng = torch.Generator().manual_seed(seed)
    new = GuidedUNet(width)
    old_sizes, new_sizes = _group_sizes(model), _group_sizes(new)
    maps, counts = {}, {}
    for name, old in old_sizes.items():
        extra = torch.randint(0, old, (new_sizes[name] - old,), generator=rng)
        maps[name] = torch.cat([torch.arange(old), extra])
        counts[name] = torch.bincount(maps[name], minlength=old).float()
    old_state = model.state_dict()
    state = new.state_dict()
    for layer, norm, inputs, output in _layer_groups():
        offsets = torch.cumsum(torch.tensor([0] + [old_sizes[g] for g in inputs]), 0)
        in_map = torch.cat([maps[g] + off for g, off in zip(inputs, offsets)])
        in_share = torch.cat([counts[g] for g in inputs])[in_map]
        weight = old_state[f"{layer}.weight"]
        if isinstance(new.get_submodule(layer), nn.ConvTranspose2d):  # weight (in, out, k, k)
            weight = weight[in_map][:, maps[output]] / in_share[:, None, None, None]
        else:
            weight = weight[maps[output]][:, in_map] / in_share[None, :, None, None]
        if noise:
            weight = weight + noise * weight.std() * torch.randn(weight.shape, generator=rng)
        state[f"{layer}.weight"] = weight
        if f"{layer}.bias" in old_state:
            state[f"{layer}.bias"] = old_state[f"{layer}.bias"][maps[output]]
        if norm:
            for field in ("weight", "bias", "running_mean", "running_var"):
                state[f"{norm}.{field}"] = old_state[f"{norm}.{field}"][maps[output]]
            state[f"{norm}.num_batches_tracked"] = old_state[f"{norm}.num_batches_tracked"]
    new.load_state_dict(state)
    return new.train(model.training)

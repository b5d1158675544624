"""Train the nucleus U-Net on DSB2018 ``train`` with nucleAIzer-style size normalisation.

Every training image is rescaled once so that its median nucleus equivalent diameter equals
``TARGET_DIAMETER`` (cached in ``--work``); batches are random 128x128 crops with rotation,
flips, rescaling around the target, blur, noise, intensity stretch, inversion and grey/colour
changes. The learning rate follows a cosine over a wall-clock budget, so the run ends on time;
a checkpoint is written every few minutes and ``--resume`` continues from it.

    python -m fiji_bridge.nucleaizer.train --data ../shared/data/dsb2018 --budget-minutes 70 [--resume]
    python -m fiji_bridge.nucleaizer.train --budget-minutes 50 --lr 1e-3 \
        --init models/nucleus/resume_checkpoint.pt --work runs/nucleus_stage2   # a further stage

Weights go to ``--work`` unless ``--out`` names a file (``--out models/nucleus/nucleus_unet.pt``
replaces the shipped model). Default paths are relative to the repository, not the working folder.

The cache file name carries the preprocessing constants, so changing them rebuilds it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import time
from pathlib import Path

import numpy as np
import tifffile
import torch
from skimage.transform import resize
from torch.nn import functional as F

from fiji_bridge.nucleaizer.model import SCALE_RANGE, TARGET_DIAMETER, UNet
from fiji_bridge.nucleaizer.preprocess import intensity_range, normalise, to_three_channels
from fiji_bridge.nucleaizer.targets import median_diameter, training_targets
from fiji_bridge.resources import CHECKOUT, DSB2018

WIDTHS = (12, 16, 32, 64, 96)
CROP = 128
KIND_WEIGHTS = {"gray_darkbg": 0.55, "color": 0.3, "gray_lightbg": 0.15}
DEFAULT_LR = 3e-3  # also the peak lr of checkpoints written before they recorded it


def cache_name() -> str:
    """Training cache file name, carrying every constant the cached images depend on."""
    from fiji_bridge.nucleaizer import preprocess as pre

    return (f"train_cache_d{TARGET_DIAMETER:g}_p{pre.LOW_PERCENTILE:g}-{pre.HIGH_PERCENTILE:g}"
            f"_top{pre.TOP_PERCENTILE:g}x{pre.TOP_SHARE:g}.pkl")


def rescale_pair(image: np.ndarray, labels: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Rescale an RGB float image (bilinear, anti-aliased when shrinking) and its labels (nearest)."""
    shape = (max(2, round(labels.shape[0] * scale)), max(2, round(labels.shape[1] * scale)))
    image = resize(image, shape + (3,), order=1, anti_aliasing=scale < 1, preserve_range=True).astype(np.float32)
    labels = resize(labels, shape, order=0, anti_aliasing=False, preserve_range=True).astype(labels.dtype)
    return image, labels


def build_cache(data: Path, cache: Path) -> list[dict]:
    """Normalise, size-normalise and compute targets for every training image (once)."""
    if cache.exists():
        with open(cache, "rb") as f:
            return pickle.load(f)
    kinds = json.loads((data / "kinds.json").read_text())
    items = []
    for path in sorted((data / "train" / "images").glob("*.tif")):
        labels = tifffile.imread(data / "train" / "masks" / path.name)
        diameter = median_diameter(labels)
        if not np.isfinite(diameter):
            continue
        raw = to_three_channels(tifffile.imread(path))
        image = normalise(raw, *intensity_range(raw))
        image, labels = rescale_pair(image, labels, TARGET_DIAMETER / diameter)
        targets = training_targets(labels)
        fg = np.flatnonzero(targets[0])
        items.append(
            {
                "id": path.stem,
                "kind": kinds[path.stem],
                "image": np.round(image * 255).astype(np.uint8).transpose(2, 0, 1).copy(),
                "targets": targets,
                "fg": np.random.default_rng(0).choice(fg, size=min(fg.size, 4000), replace=False),
            }
        )
    tmp = cache.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(items, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, cache)
    return items


def sample_patch(item: dict, rng: np.random.Generator) -> torch.Tensor:
    """One augmented (6, CROP, CROP) patch: 3 image channels then 3 target channels, in [0, 1]."""
    stack = np.concatenate([item["image"], item["targets"]])
    height, width = stack.shape[1:]
    if item["fg"].size and rng.random() < 0.8:
        cy, cx = divmod(int(rng.choice(item["fg"])), width)
    else:
        cy, cx = int(rng.integers(height)), int(rng.integers(width))
    scale = math.exp(rng.uniform(*np.log(SCALE_RANGE)))
    source = CROP / scale
    half = int(math.ceil(source * 0.75)) + 2
    y0, y1, x0, x1 = cy - half, cy + half, cx - half, cx + half
    window = stack[:, max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
    pad = ((0, 0), (max(-y0, 0), max(y1 - height, 0)), (max(-x0, 0), max(x1 - width, 0)))
    window = np.pad(window, pad, mode="reflect") if window.shape[1] > 1 and window.shape[2] > 1 else np.pad(window, pad, mode="edge")
    patch = torch.from_numpy(window.astype(np.float32) / 255.0)[None]
    angle = rng.uniform(0, 2 * math.pi)
    zoom = source / (2 * half)
    flip = -1.0 if rng.random() < 0.5 else 1.0
    theta = torch.tensor(
        [[zoom * math.cos(angle) * flip, -zoom * math.sin(angle), 0.0], [zoom * math.sin(angle) * flip, zoom * math.cos(angle), 0.0]],
        dtype=torch.float32,
    )[None]
    grid = F.affine_grid(theta, (1, 6, CROP, CROP), align_corners=False)
    return F.grid_sample(patch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)[0]


def augment_intensity(images: torch.Tensor, is_colour: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Grey/colour changes, inversion, stretch/gamma, blur and noise on (B, 3, H, W) in [0, 1]."""
    batch = images.shape[0]

    def chance(p: float) -> torch.Tensor:
        return (torch.rand(batch, 1, 1, 1, generator=gen) < p).float()

    def uniform(lo: float, hi: float, shape: tuple = (1, 1, 1)) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand((batch,) + shape, generator=gen)

    colour = is_colour.view(-1, 1, 1, 1).float()
    grey = images.mean(1, keepdim=True).expand_as(images)
    to_grey = chance(0.3) * colour
    images = to_grey * grey + (1 - to_grey) * images
    tint = chance(0.15) * (1 - colour)
    images = tint * images * uniform(0.5, 1.0, (3, 1, 1)) + (1 - tint) * images
    shuffle = chance(0.2)
    images = shuffle * images[:, torch.randperm(3, generator=gen)] + (1 - shuffle) * images
    invert = chance(0.25)
    images = invert * (1 - images) + (1 - invert) * images
    images = images.clamp(1e-4, 1).pow(torch.exp(uniform(-0.5, 0.5)))
    low, span = uniform(-0.15, 0.15), uniform(0.6, 1.4)
    images = ((images - 0.5) * span + 0.5 + low).clamp(0, 1)
    sigma = float(uniform(0.5, 1.5)[0].item())
    kernel = torch.exp(-(torch.arange(-3, 4, dtype=torch.float32) ** 2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).view(1, 1, 1, 7).repeat(3, 1, 1, 1)
    blurred = F.conv2d(F.pad(images, (3, 3, 0, 0), mode="reflect"), kernel, groups=3)
    blurred = F.conv2d(F.pad(blurred, (0, 0, 3, 3), mode="reflect"), kernel.transpose(2, 3), groups=3)
    blur = chance(0.3)
    images = blur * blurred + (1 - blur) * images
    noise = chance(0.3) * uniform(0.0, 0.08)
    images = images + noise * torch.randn(images.shape, generator=gen)
    return images.clamp(0, 1)


def make_batch(items: list[dict], weights: np.ndarray, size: int, rng: np.random.Generator,
               gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (B, 3, H, W), targets (B, 3, H, W)) for one training step."""
    chosen = rng.choice(len(items), size=size, p=weights)
    patches = torch.stack([sample_patch(items[i], rng) for i in chosen])
    is_colour = torch.tensor([items[i]["kind"] == "color" for i in chosen])
    return augment_intensity(patches[:, :3], is_colour, gen), patches[:, 3:]


def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum of per-map binary cross-entropies (soft targets after resampling)."""
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=(0, 2, 3)).sum()


def learning_rate(base: float, fraction: float) -> float:
    """Linear warm-up over the first 3 % of the budget, then cosine down to 2 % of ``base``."""
    if fraction < 0.03:
        return base * max(fraction / 0.03, 0.05)
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, (fraction - 0.03) / 0.97))))


def stage_record(state: dict) -> dict:
    """What the model card keeps of the stage that ended in checkpoint ``state``; checkpoints
    older than the lr / seed records give the default lr and seed None."""
    return {"steps": state["step"], "minutes": round(state["elapsed"] / 60, 1),
            "lr": state.get("lr", DEFAULT_LR), "seed": state.get("seed")}


def save_atomic(obj: object, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def export_weights(model: UNet, path: Path, info: dict) -> None:
    """Float16 state dict plus what inference needs (widths, target diameter, normalisation)."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    config = {"widths": list(model.widths), "target_diameter": TARGET_DIAMETER, **info}
    save_atomic({"config": config, "state_dict": state}, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DSB2018)
    parser.add_argument("--work", type=Path, default=CHECKOUT / "runs" / "nucleus", help="cache and checkpoint")
    parser.add_argument("--out", type=Path, help="weights file to write (default: --work/nucleus_unet.pt, so the "
                        "shipped models/nucleus/nucleus_unet.pt is replaced only when named)")
    parser.add_argument("--budget-minutes", type=float, default=70.0)
    parser.add_argument("--until", help="UTC time HH:MM at which to end (overrides --budget-minutes)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=DEFAULT_LR)
    parser.add_argument("--checkpoint-minutes", type=float, default=3.0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--init", type=Path, help="start a new stage from the weights of this checkpoint "
                        "(fresh optimiser and schedule; the earlier stages are recorded in the config)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out = args.out or args.work / "nucleus_unet.pt"
    if args.out.is_dir():
        parser.error(f"--out names the weights file to write; {args.out} is a folder")

    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    items = build_cache(args.data, args.work / cache_name())
    print(f"cache: {len(items)} images in {time.time() - t0:.0f}s", flush=True)
    kind_counts = {k: sum(it["kind"] == k for it in items) for k in KIND_WEIGHTS}
    weights = np.array([KIND_WEIGHTS[it["kind"]] / kind_counts[it["kind"]] for it in items])
    weights /= weights.sum()

    model = UNet(WIDTHS).to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    step, elapsed, stages = 0, 0.0, []
    checkpoint = args.work / "checkpoint.pt"
    if args.init and not (args.resume and checkpoint.exists()):
        start_from = torch.load(args.init, weights_only=False)
        model.load_state_dict(start_from["model"])
        stages = [*start_from.get("stages", []), stage_record(start_from)]
        print(f"new stage from {args.init}; earlier stages {stages}", flush=True)
    if args.resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, elapsed, stages = state["step"], state["elapsed"], state.get("stages", [])
        rng = np.random.default_rng(args.seed + step)
        gen = torch.Generator().manual_seed(args.seed + step)
        print(f"resumed at step {step}, {elapsed / 60:.1f} min", flush=True)

    budget = args.budget_minutes * 60
    if args.until:
        now = time.gmtime()
        hours, minutes = map(int, args.until.split(":"))
        budget = elapsed + (hours * 3600 + minutes * 60) - (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec)
    model.train()
    start, last_save, running = time.time() - elapsed, time.time(), []

    def checkpoint_state() -> dict:
        return {"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step, "elapsed": elapsed,
                "stages": stages, "lr": args.lr, "seed": args.seed}

    while elapsed < budget:
        lr = learning_rate(args.lr, elapsed / budget)
        for group in optimiser.param_groups:
            group["lr"] = lr
        images, targets = make_batch(items, weights, args.batch, rng, gen)
        loss = loss_fn(model(images.contiguous(memory_format=torch.channels_last)), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        running.append(loss.item())
        elapsed = time.time() - start
        if step % 100 == 0:
            print(f"step {step} t={elapsed / 60:.1f}min lr={lr:.2e} loss={np.mean(running):.4f}", flush=True)
            running = []
        if time.time() - last_save > args.checkpoint_minutes * 60:
            save_atomic(checkpoint_state(), checkpoint)
            last_save = time.time()
    final = checkpoint_state()
    save_atomic(final, checkpoint)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    stages = [*stages, stage_record(final)]
    info = {"steps": sum(st["steps"] for st in stages), "batch": args.batch, "crop": CROP,
            "minutes": round(sum(st["minutes"] for st in stages), 1), "stages": stages, "train_images": len(items)}
    export_weights(model, args.out, info)
    print(f"done: {step} steps in {elapsed / 60:.1f} min -> {args.out}", flush=True)


if __name__ == "__main__":
    main()

"""Train the guided contour U-Net on DSB2018 train with simulated rough inits.

    python -m fiji_bridge.contour.train --minutes 70            # start
    python -m fiji_bridge.contour.train --minutes 70 --resume   # continue after an interruption
    python -m fiji_bridge.contour.train --minutes 60 --lr 1e-3 --init models/contour_unet/resume_checkpoint.pt \
        --workdir runs/contour_stage2 --cache runs/contour   # a further stage from trained weights
    (a further stage with a larger ``--width`` than its ``--init`` widens those weights without
    changing what they compute, then trains the wider network)

Samples are built once and cached (``--cache``); checkpoints (model, optimiser, elapsed time)
are written every ``--checkpoint-every`` seconds; the learning rate follows the elapsed share
of the time budget, so a resumed run ends where an uninterrupted one would. The final float16
weights and MODEL_CARD.md go to ``--out`` (default: ``--workdir``; pass ``--out models/contour_unet``
to replace the shipped model).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fiji_bridge.contour import data
from fiji_bridge.contour.crop import HIGH_PERCENTILE, INPUT_SIZE, LOW_PERCENTILE, STROKE_DECAY
from fiji_bridge.contour.model import GuidedUNet, widened
from fiji_bridge.contour.unet import TTA_TRANSFORMS
from fiji_bridge.resources import CHECKOUT, DSB2018

DEFAULT_LR = 3e-3  # also the peak lr of checkpoints written before they recorded it
UNRECORDED = {"lr": DEFAULT_LR, "seed": 0, "width": 16}  # stage fields of checkpoints written before they recorded them


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m fiji_bridge.contour.train", description=__doc__.splitlines()[0])
    p.add_argument("--train", type=Path, default=DSB2018 / "train", help="DSB-style folder to train on")
    p.add_argument("--val", type=Path, default=DSB2018 / "val", help="folder only scored, never trained on")
    p.add_argument("--out", type=Path, help="folder for weights and card (default: --workdir, so the shipped "
                   "models/contour_unet is replaced only when named)")
    p.add_argument("--workdir", type=Path, default=CHECKOUT / "runs" / "contour", help="cache, checkpoint, log")
    p.add_argument("--minutes", type=float, default=70.0, help="training time budget (wall clock)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=DEFAULT_LR)
    p.add_argument("--width", type=int, default=16, help="channels of the first level; larger than --init's widens it")
    p.add_argument("--per-object", type=int, default=2, help="simulated inits per training object")
    p.add_argument("--checkpoint-every", type=float, default=180.0, help="seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, help="folder of the cached samples (default: --workdir)")
    p.add_argument("--init", type=Path, help="start a new stage from the weights of this checkpoint "
                   "(fresh optimiser and schedule; earlier stages are recorded in the model card)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --workdir")
    p.add_argument("--export", action="store_true", help="only write weights + card from the checkpoint")
    args = p.parse_args(argv)
    args.out = args.out or args.workdir
    if args.out.is_file():
        p.error(f"--out names the folder for the weights and model card; {args.out} is a file")
    return args


def cached_samples(folder: Path, cache: Path, seed: int, per_object: int) -> data.Samples:
    if cache.exists():
        return data.Samples.load(cache)
    samples = data.build(folder, np.random.default_rng(seed), per_object=per_object)
    cache.parent.mkdir(parents=True, exist_ok=True)
    samples.save(cache)
    return samples


def augment(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotations/flips of all channels; inversion, gamma, contrast, noise of the image channel."""
    b = x.shape[0]
    both = torch.cat([x, y], dim=1)
    rot = torch.randint(0, 4, (b,), generator=gen)
    flip = torch.rand(b, generator=gen) < 0.5
    out = []
    for i in range(b):
        t = torch.rot90(both[i], int(rot[i]), dims=(1, 2))
        out.append(torch.flip(t, dims=(2,)) if flip[i] else t)
    both = torch.stack(out)
    x, y = both[:, :3].clone(), both[:, 3:]
    img = x[:, 0]
    r = lambda lo, hi: lo + (hi - lo) * torch.rand(b, 1, 1, generator=gen)  # noqa: E731
    invert = (torch.rand(b, 1, 1, generator=gen) < 0.3).float()
    img = invert * (1 - img) + (1 - invert) * img
    img = img.clamp(0, 1) ** torch.exp(r(-0.5, 0.5))
    img = (img - 0.5) * r(0.7, 1.3) + 0.5 + r(-0.1, 0.1)
    img = img + torch.randn(img.shape, generator=gen) * r(0.0, 0.06)
    x[:, 0] = img.clamp(0, 1)
    return x, y


def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    obj, anyn = logits[:, 0], logits[:, 1]
    p = torch.sigmoid(obj)
    inter = (p * y[:, 0]).sum(dim=(1, 2))
    dice = 1 - (2 * inter + 1) / (p.sum(dim=(1, 2)) + y[:, 0].sum(dim=(1, 2)) + 1)
    return (F.binary_cross_entropy_with_logits(obj, y[:, 0]) + dice.mean()
            + 0.5 * F.binary_cross_entropy_with_logits(anyn, y[:, 1]))


def learning_rate(base: float, fraction: float) -> float:
    """Linear warm-up over the first 3 % of the time budget, then cosine decay to 1 % of ``base``."""
    if fraction < 0.03:
        return base * max(fraction / 0.03, 0.05)
    f = min((fraction - 0.03) / 0.97, 1.0)
    return base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * f)))


@torch.inference_mode()
def score(model: GuidedUNet, samples: data.Samples, limit: int = 768) -> dict[str, float]:
    """Mean IoU (at network resolution) of the object channel, per init kind."""
    model.eval()
    n = min(limit, len(samples.inputs))
    ious = []
    for s in range(0, n, 128):
        end = min(s + 128, n)
        x = torch.from_numpy(samples.inputs[s:end]).float() / 255
        t = samples.targets[s:end, 0] >= 128
        pred = (model(x)[:, 0] > 0).numpy()
        inter = (pred & t).sum(axis=(1, 2))
        union = (pred | t).sum(axis=(1, 2))
        ious.append(inter / np.maximum(union, 1))
    model.train()
    iou = np.concatenate(ious)
    kinds = samples.kinds[:n]
    res = {"all": float(iou.mean())}
    for k, name in enumerate(data.INIT_KINDS):
        if (kinds == k).any():
            res[name] = float(iou[kinds == k].mean())
    return res


def save_atomic(obj: object, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def write_outputs(model: GuidedUNet, args: argparse.Namespace, state: dict, val_scores: dict) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    stages = [*state.get("stages", []), {"steps": state["step"], "seconds": round(state["elapsed"]), "lr": args.lr,
                                         "seed": args.seed, "width": args.width}]
    meta = {"width": args.width, "input_size": INPUT_SIZE, "stroke_decay": STROKE_DECAY,
            "percentiles": [LOW_PERCENTILE, HIGH_PERCENTILE], "steps": sum(st["steps"] for st in stages),
            "train_seconds": sum(st["seconds"] for st in stages), "stages": stages,
            "val_iou_at_input_size": val_scores}
    save_atomic({"state_dict": weights, "meta": meta}, args.out / "contour_unet.pt")
    (args.out / "training.json").write_text(json.dumps({**meta, "args": {k: str(v) for k, v in vars(args).items()}}, indent=2))
    (args.out / "MODEL_CARD.md").write_text(model_card(args, meta))


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it lies beside or inside it (as ../shared/...), else as given."""
    try:
        return str(Path("..") / path.resolve().relative_to(CHECKOUT.parent))
    except ValueError:
        return str(path)


def _inference_passes() -> str:
    """How ``unet.predict`` runs the network (its test-time augmentation), for the model card."""
    if len(TTA_TRANSFORMS) == 1:
        return "At inference the network sees the window once"
    return (f"At inference the window goes through the network as {len(TTA_TRANSFORMS)} dihedral transforms "
            f"(`fiji_bridge.layers.dihedral` {tuple(TTA_TRANSFORMS)}; 0 is the window as is), in one batch; "
            "the probabilities are averaged after each transform is undone")


def model_card(args: argparse.Namespace, meta: dict) -> str:
    """MODEL_CARD.md text: data, recipe, input normalisation, scores measured at the end of training."""
    scores = ", ".join(f"{k} {v:.3f}" for k, v in meta["val_iou_at_input_size"].items())
    stage_lines = "\n".join(f"  - stage {i + 1}: {st['steps']} steps, {st['seconds'] / 60:.0f} min, peak lr {st['lr']:g}, "
                             f"samples of seed {st['seed']}, width {st['width']}" for i, st in enumerate(meta["stages"]))
    return f"""# contour_unet: guided U-Net for contour suggestion

Weights: `contour_unet.pt` (float16 state dict + metadata), architecture
`fiji_bridge.contour.model.GuidedUNet(width={args.width})`, used by
`fiji_bridge.suggest_contour(..., method="unet")`.

## Input
A square window around the crop rule box (the init's bounding box enlarged by `max_distance`,
clipped to the image; mirrored past the image edge), resized (bilinear, antialiased) to
{INPUT_SIZE}x{INPUT_SIZE}. Three channels:
1. grey image: RGB averaged over channels (uint8, uint16 and float alike), then a percentile
   stretch of the window ({LOW_PERCENTILE} -> 0, {HIGH_PERCENTILE} -> 1, clipped); bit depth does not matter;
2. the filled initial contour (pixel centres inside; zeros for an open line);
3. closeness to the drawn stroke: exp(-d / {STROKE_DECAY}), d = distance in window pixels.

## Output
Two logits per pixel: the object the init points at, and any nucleus (used to rank
further candidates). {_inference_passes()}, then resized back to the window and thresholded at 0.5.

## Training data and recipe
- Data: DSB2018 stage-1 `train` split (`{_shown(args.train)}`), never `val`. Every object with area
  >= {data.MIN_AREA} px gets {args.per_object} simulated inits (touching objects one more): rough polygon (5-12
  vertices, 0.7-1.4x size, per-vertex noise, shifted), short freehand line across the object,
  loose box (0-30 % margins); weights {data.KIND_WEIGHTS}; max_distance 17 (60 %) or 8-30 px.
- Augmentation: rotations by 90 deg, flips, inversion (p 0.3), gamma, contrast/brightness, noise.
- Loss: BCE + soft Dice on the object channel, 0.5 x BCE on the any-nucleus channel.
- AdamW (3 % warm-up, cosine decay to 1 % of the peak learning rate), batch {args.batch}, 1 CPU thread,
  {meta['steps']} steps in {meta['train_seconds'] / 60:.0f} min, in {len(meta['stages'])} stage(s); each stage
  restarts the schedule from the previous stage's weights with a fresh optimiser:
{stage_lines}
- Reproduce: stage 1 `python -m fiji_bridge.contour.train --minutes 85`, then each further stage
  `python -m fiji_bridge.contour.train --minutes M --lr LR --seed S --init runs/contour/checkpoint.pt --workdir runs/contour_stage2 --cache runs/contour`
  (`--init` names the previous stage's checkpoint; a new seed simulates new inits; add `--resume` after an interruption). Each stage writes its weights and card to its `--workdir`; the last one adds `--out models/contour_unet` to replace the shipped model. `models/contour_unet/resume_checkpoint.pt` is the last stage's checkpoint.

## Scores
Mean IoU on simulated inits of `val` objects at the network resolution ({INPUT_SIZE} px): {scores}.
Full-resolution figures (ImageJ pixel convention) come from `python benchmarks/bench_contour.py`.
"""


def initial_weights(state_dict: dict, width: int, seed: int) -> GuidedUNet:
    """A network of ``width`` from a previous stage's weights, widened (Net2WiderNet) when they are narrower."""
    earlier = GuidedUNet(state_dict["enc.0.0.weight"].shape[0])
    earlier.load_state_dict(state_dict)
    if earlier.width == width:
        return earlier
    print(f"widening the network from width {earlier.width} to {width}", flush=True)
    return widened(earlier, width, seed=seed)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    args.workdir.mkdir(parents=True, exist_ok=True)
    cache = args.cache or args.workdir
    val = cached_samples(args.val, cache / "val_samples.npz", 1234, 1)

    model = GuidedUNet(args.width)
    gen = torch.Generator().manual_seed(args.seed)
    state = {"step": 0, "elapsed": 0.0, "stages": []}
    ckpt = args.workdir / "checkpoint.pt"
    if args.init and not (args.resume and ckpt.exists()):
        start = torch.load(args.init, weights_only=False)
        model = initial_weights(start["model"], args.width, args.seed)
        earlier = start["state"]
        state["stages"] = [{**UNRECORDED, **st} for st in earlier.get("stages", [])] + [
            {"steps": earlier["step"], "seconds": round(earlier["elapsed"]),
             **{key: earlier.get(key, default) for key, default in UNRECORDED.items()}}]
        print(f"new stage from {args.init} (earlier stages: {state['stages']})", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    if (args.resume or args.export) and ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        gen.set_state(saved["generator"])
        state = saved["state"]
        print(f"resumed at step {state['step']}, {state['elapsed'] / 60:.1f} min done", flush=True)

    if args.export:
        write_outputs(model, args, state, score(model, val, limit=len(val.inputs)))
        return
    train = cached_samples(args.train, cache / f"train_samples_s{args.seed}_p{args.per_object}.npz",
                           args.seed, args.per_object)
    print(f"train samples {len(train.inputs)}, val samples {len(val.inputs)}", flush=True)
    state["lr"], state["seed"], state["width"] = args.lr, args.seed, args.width
    budget = args.minutes * 60
    n = len(train.inputs)

    def checkpoint() -> dict:
        return {"model": model.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(), "state": state}

    last_ckpt = time.monotonic()
    t_prev = time.monotonic()
    running = 0.0
    model.train()
    while state["elapsed"] < budget:
        lr = learning_rate(args.lr, state["elapsed"] / budget)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, n, (args.batch,), generator=gen).numpy()
        x = torch.from_numpy(train.inputs[idx]).float() / 255
        y = torch.from_numpy(train.targets[idx]).float() / 255
        x, y = augment(x, y, gen)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        now = time.monotonic()
        state["elapsed"] += now - t_prev
        t_prev = now
        state["step"] += 1
        running = 0.98 * running + 0.02 * loss.item() if state["step"] > 1 else loss.item()
        if state["step"] % 100 == 0:
            print(f"step {state['step']} {state['elapsed'] / 60:.1f}/{args.minutes:.0f} min "
                  f"loss {running:.4f} lr {lr:.2e}", flush=True)
        if now - last_ckpt >= args.checkpoint_every:
            save_atomic(checkpoint(), ckpt)
            print(f"checkpoint: val IoU {score(model, val)}", flush=True)
            last_ckpt = time.monotonic()
            t_prev = last_ckpt  # scoring time does not count as training time
    save_atomic(checkpoint(), ckpt)
    val_scores = score(model, val, limit=len(val.inputs))
    print(f"final val IoU at {INPUT_SIZE} px: {val_scores}", flush=True)
    write_outputs(model, args, state, val_scores)
    print(f"wrote {args.out / 'contour_unet.pt'}", flush=True)


if __name__ == "__main__":
    main()

"""Tune the post-processing parameters on DSB2018 ``val`` (never used for training).

First the inference scale (the nucleus diameter images are rescaled to, ``--diameters``) is
chosen with the current parameters. The network maps of every val image are computed once
per scale (size estimated as in ``segment_nuclei``), then parameter settings are scored by the mean DSB score over images in
two stages (seeds and foreground first, then sizes and merging around the best of stage 1);
every setting and the best one are printed.

    python -m fiji_bridge.nucleaizer.tune --data ../shared/data/dsb2018 [--write]

Val is thereby not held out for the post-processing. ``--cross-validate ROUNDS`` measures part
of what that costs: the same search (from the shipped settings) on half of val, scored on the
other half (two-fold, ROUNDS random splits), against the shipped settings on the same halves.
"""
from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import tifffile
import torch

from fiji_bridge.evaluation import image_scores
from fiji_bridge.nucleaizer.inference import DEFAULT_WEIGHTS, NucleusModel, as_tensor, load_model, predict_maps, resize_tensor
from fiji_bridge.nucleaizer.pipeline import POSTPROCESSING, segmentation_scale
from fiji_bridge.nucleaizer.postprocess import SIZE_POSTPROCESSING, PostProcessing, maps_to_labels
from fiji_bridge.nucleaizer.preprocess import intensity_range, normalise, to_three_channels
from fiji_bridge.nucleaizer.size import estimate_size
from fiji_bridge.nucleaizer.train import save_atomic

STAGES = (
    {
        "seed_source": ["distance", "boundary"],
        "foreground_threshold": [0.4, 0.5, 0.55, 0.6],
        "seed_threshold": [0.3, 0.4, 0.5, 0.6, 0.7],
    },
    {
        "min_area": [10.0, 20.0, 40.0],
        "min_seed_area": [2.0, 4.0, 8.0],
        "merge_ratio": [1.01, 0.9, 0.8, 0.7],
    },
)


def val_images(data: Path) -> list[Path]:
    """The val images, in the order of every per-image list here."""
    return sorted((data / "val" / "images").glob("*.tif"))


def val_maps(data: Path, model: NucleusModel) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(maps at input resolution, true labels, scale) per val image."""
    out = []
    for path in val_images(data):
        rgb = to_three_channels(tifffile.imread(path))
        low, high = intensity_range(rgb)
        estimate = estimate_size(model, (rgb, low, high), SIZE_POSTPROCESSING)
        scale = segmentation_scale(estimate.scale, estimate.diameter) if estimate else 1.0
        image = normalise(rgb, low, high)
        shape = (round(image.shape[0] * scale), round(image.shape[1] * scale))
        maps = resize_tensor(predict_maps(model, resize_tensor(as_tensor(image), shape)), image.shape[:2]).numpy()
        out.append((maps, tifffile.imread(data / "val" / "masks" / path.name), scale))
    return out


class Scores:
    """Per-image DSB score and AP(0.5) of post-processing settings on the cached val maps, each
    setting computed once."""

    def __init__(self, cached: list[tuple[np.ndarray, np.ndarray, float]]):
        self.cached = cached
        self._per_image: dict[str, np.ndarray] = {}

    def per_image(self, params: PostProcessing) -> np.ndarray:
        """(images, 2): DSB score and AP(0.5) of each image."""
        key = repr(params)
        if key not in self._per_image:
            scores = [image_scores(truth, maps_to_labels(maps, params, 1 / scale**2)) for maps, truth, scale in self.cached]
            self._per_image[key] = np.array([[s["dsb"], s["ap50"]] for s in scores])
        return self._per_image[key]

    def mean(self, params: PostProcessing, images: np.ndarray | None = None) -> tuple[float, float]:
        """Mean DSB score and mean AP(0.5) over ``images`` (indices; default all)."""
        rows = self.per_image(params) if images is None else self.per_image(params)[images]
        return float(rows[:, 0].mean()), float(rows[:, 1].mean())


def best_settings(scores: Scores, images: np.ndarray | None = None, verbose: bool = True) -> PostProcessing:
    """The settings with the best mean DSB score on ``images``, searched in the two ``STAGES``
    (each stage around the best of the one before), starting from the shipped settings."""
    best = POSTPROCESSING
    for stage in STAGES:
        results = []
        for values in itertools.product(*stage.values()):
            params = replace(best, **dict(zip(stage, values)))
            if params.seed_source == "boundary" and params.seed_threshold < 0.4:
                continue
            dsb, ap50 = scores.mean(params, images)
            results.append((dsb, ap50, params))
            if verbose:
                print(f"dsb={dsb:.4f} ap50={ap50:.4f} {params}", flush=True)
        dsb, ap50, best = max(results, key=lambda r: r[0])
        if verbose:
            print(f"best after stage: dsb={dsb:.4f} ap50={ap50:.4f} {best}", flush=True)
    return best


def cross_validate(scores: Scores, rounds: int, fluorescence: np.ndarray) -> None:
    """What searching the thresholds on val gains: in each round the val images are split in two
    random halves; settings searched (from the shipped ones) on one half are scored on the other,
    and the other way round. Prints
    the held-out DSB score and fluorescence AP(0.5) (``fluorescence``: a mask over the images)
    of each, and their means next to the shipped settings' on the same halves."""
    n = len(scores.cached)
    held_out, shipped = [], []
    for round_ in range(rounds):
        order = np.random.default_rng(round_).permutation(n)
        for tuned_on, scored_on in ((order[: n // 2], order[n // 2 :]), (order[n // 2 :], order[: n // 2])):
            params = best_settings(scores, np.sort(tuned_on), verbose=False)
            fluo = np.sort(scored_on[fluorescence[scored_on]])
            held_out.append((scores.mean(params, np.sort(scored_on))[0], scores.mean(params, fluo)[1]))
            shipped.append((scores.mean(POSTPROCESSING, np.sort(scored_on))[0], scores.mean(POSTPROCESSING, fluo)[1]))
            print(f"round {round_}: held-out dsb={held_out[-1][0]:.4f} fluorescence ap50={held_out[-1][1]:.4f} "
                  f"(shipped settings {shipped[-1][0]:.4f} / {shipped[-1][1]:.4f}) {params}", flush=True)
    (dsb, ap50), (dsb_shipped, ap50_shipped) = np.mean(held_out, axis=0), np.mean(shipped, axis=0)
    print(f"mean held-out dsb={dsb:.4f} fluorescence ap50={ap50:.4f}; shipped settings on the same halves "
          f"{dsb_shipped:.4f} / {ap50_shipped:.4f}: tuning on val adds {dsb_shipped - dsb:+.4f} / "
          f"{ap50_shipped - ap50:+.4f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/dsb2018"))
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--diameters", type=float, nargs="+", default=[20.0, 24.0, 28.0],
                        help="nucleus diameters (px) to try as the inference scale")
    parser.add_argument("--write", action="store_true",
                        help="store the best diameter as inference_diameter in the weights file")
    parser.add_argument("--cross-validate", type=int, default=0, metavar="ROUNDS",
                        help="instead of tuning: what searching the thresholds again on half of val gains on "
                             "the other half, ROUNDS random two-fold splits at the weights' own diameter "
                             "(--diameters is not used)")
    args = parser.parse_args(argv)
    if args.cross_validate and args.write:
        parser.error("--cross-validate only measures; it writes nothing (leave out --write)")
    torch.set_num_threads(2)
    model = load_model(args.weights)
    if args.cross_validate:
        kinds = json.loads((args.data / "kinds.json").read_text())
        fluorescence = np.array([kinds.get(p.stem) == "gray_darkbg" for p in val_images(args.data)])
        cross_validate(Scores(val_maps(args.data, model)), args.cross_validate, fluorescence)
        return
    by_diameter, scores = {}, {}
    for diameter in args.diameters:
        model.target_diameter = diameter
        by_diameter[diameter] = Scores(val_maps(args.data, model))
        scores[diameter] = by_diameter[diameter].mean(POSTPROCESSING)
        print(f"inference diameter {diameter:g} px: dsb={scores[diameter][0]:.4f} ap50={scores[diameter][1]:.4f}", flush=True)
    best_diameter = max(scores, key=lambda d: scores[d][0])
    print(f"best inference diameter: {best_diameter:g} px", flush=True)
    if args.write:
        path = args.weights or DEFAULT_WEIGHTS
        saved = torch.load(path, map_location="cpu", weights_only=False)
        saved["config"]["inference_diameter"] = best_diameter
        save_atomic(saved, path)
        print(f"wrote inference_diameter={best_diameter:g} to {path}", flush=True)
    best_settings(by_diameter[best_diameter])


if __name__ == "__main__":
    main()

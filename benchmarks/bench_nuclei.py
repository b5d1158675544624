"""Nucleus segmentation benchmark on DSB2018 ``val``: accuracy per image kind, speed, memory.

Methods: the bundled model (size estimated, ``diameter=None``), the model with 8-fold TTA,
and the classical baseline (blur + Otsu + distance watershed), all in the same run; then the
same on ``val`` upscaled 3x (size estimation must keep the score within 0.05); seconds per
input megapixel (each scored pass, and the median of further warm passes over val for the model and
the baseline); peak memory for a 4096x4096 image (in a subprocess: peak resident memory before and after
segmenting, and the peak of Python/numpy allocations traced by tracemalloc), without and with TTA.

    python benchmarks/bench_nuclei.py [--data ../shared/data/dsb2018] [--json runs/bench_nuclei.json]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import tifffile
import torch
from skimage.transform import resize

from fiji_bridge.evaluation import image_scores
from fiji_bridge.nucleaizer.baseline import segment_nuclei_baseline
from fiji_bridge.nucleaizer.inference import load_model
from fiji_bridge.nucleaizer.pipeline import segment_nuclei
from fiji_bridge.resources import DSB2018

KINDS = ("gray_darkbg", "color", "gray_lightbg")


def load_val(data: Path, upscale: int = 1, every: int = 1) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(id, kind, image, labels) for every ``every``-th val image, optionally upscaled (bilinear / nearest)."""
    kinds = json.loads((data / "kinds.json").read_text())
    items = []
    for path in sorted((data / "val" / "images").glob("*.tif"))[::every]:
        image = tifffile.imread(path)
        labels = tifffile.imread(data / "val" / "masks" / path.name)
        if upscale != 1:
            shape = (image.shape[0] * upscale, image.shape[1] * upscale)
            image = resize(image, shape + image.shape[2:], order=1, preserve_range=True).round().astype(np.uint8)
            labels = np.repeat(np.repeat(labels, upscale, axis=0), upscale, axis=1)
        items.append((path.stem, kinds[path.stem], image, labels))
    return items


def run_method(items, segment) -> tuple[dict, float]:
    """Per-kind and overall mean scores, and seconds per input megapixel."""
    per_kind: dict[str, list[dict]] = {}
    seconds = megapixels = 0.0
    for _, kind, image, truth in items:
        start = time.perf_counter()
        labels = segment(image)
        seconds += time.perf_counter() - start
        megapixels += truth.size / 1e6
        per_kind.setdefault(kind, []).append(image_scores(truth, labels))
    table = {}
    for kind in [*KINDS, "overall"]:
        scores = [s for k, v in per_kind.items() for s in v if kind in (k, "overall")]
        if scores:
            table[kind] = {m: float(np.mean([s[m] for s in scores])) for m in ("ap50", "f1_50", "dsb")} | {"n": len(scores)}
    return table, seconds / megapixels


def timed_passes(items, segment, repeats: int) -> list[float]:
    """Seconds per input megapixel of each of ``repeats`` passes over ``items``, run after the scored
    pass (which warms the model up for every image shape)."""
    megapixels = sum(truth.size for *_, truth in items) / 1e6
    figures = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _, _, image, _ in items:
            segment(image)
        figures.append((time.perf_counter() - start) / megapixels)
    return figures


def print_table(title: str, table: dict) -> None:
    print(f"\n{title}")
    print(f"{'kind':<14}{'n':>4}{'AP(0.5)':>9}{'F1(0.5)':>9}{'DSB':>8}")
    for kind, row in table.items():
        print(f"{kind:<14}{row['n']:>4}{row['ap50']:>9.3f}{row['f1_50']:>9.3f}{row['dsb']:>8.3f}")


def memory_child(size: int, tta: bool) -> None:
    """Segment a size x size mosaic of synthetic content: the bundled sample tiled; print peak memory as JSON."""
    load_model()
    rng = np.random.default_rng(0)
    from fiji_bridge.data import sample_image

    tile = sample_image()
    reps = (size // tile.shape[0] + 1, size // tile.shape[1] + 1)
    image = np.tile(tile, reps + (1,) * (tile.ndim - 2))[:size, :size].copy()
    image = np.clip(image.astype(np.int16) + rng.integers(-3, 4, image.shape, dtype=np.int16), 0, 255).astype(np.uint8)
    rss_before = _peak_rss_mb()
    tracemalloc.start()
    start = time.perf_counter()
    labels = segment_nuclei(image, diameter=None, tta=tta)
    elapsed = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    print(json.dumps({"size": size, "tta": tta, "objects": int(labels.max()), "seconds": round(elapsed, 1),
                      "peak_rss_before_mb": round(rss_before), "peak_rss_mb": round(_peak_rss_mb()),
                      "input_mb": round(image.nbytes / 2**20), "tracemalloc_peak_mb": round(traced_peak / 2**20)}))


def _peak_rss_mb() -> float:
    """The process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_memory(size: int, tta: bool) -> dict:
    command = [sys.executable, __file__, "--memory-child", str(size)] + (["--memory-tta"] if tta else [])
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DSB2018)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-tta", action="store_true")
    parser.add_argument("--skip-upscaled", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--every", type=int, default=1, help="use every N-th val image (quick checks)")
    parser.add_argument("--speed-passes", type=int, default=3,
                        help="timed passes over val after the scored one, for the model and the baseline (median reported)")
    parser.add_argument("--weights", type=Path, default=None, help="model weights (default: bundled)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory-tta", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(args.memory_child, args.memory_tta)
        return
    model = load_model(args.weights)
    results: dict = {"threads": args.threads}
    val = load_val(args.data, every=args.every)
    methods = {"model": lambda im: segment_nuclei(im, model=model), "baseline": segment_nuclei_baseline}
    if not args.skip_tta:
        methods["model_tta"] = lambda im: segment_nuclei(im, tta=True, model=model)
    for name, segment in methods.items():
        table, spm = run_method(val, segment)
        results[name] = {"scores": table, "seconds_per_megapixel": spm}
        print_table(f"val, {name} ({spm:.2f} s/MP)", table)
    if args.speed_passes:
        speed = {name: timed_passes(val, methods[name], args.speed_passes) for name in ("model", "baseline")}
        medians = {name: float(np.median(figures)) for name, figures in speed.items()}
        results["speed"] = {"passes_s_per_mp": speed, "median_s_per_mp": medians,
                            "model_to_baseline": medians["model"] / medians["baseline"]}
        print(f"\nspeed on val, median of {args.speed_passes} warm passes: model {medians['model']:.2f} s/MP "
              f"({min(speed['model']):.2f}-{max(speed['model']):.2f}; target <= 1), baseline {medians['baseline']:.2f} s/MP, "
              f"ratio {results['speed']['model_to_baseline']:.1f}x")
    if not args.skip_upscaled:
        val3 = load_val(args.data, upscale=3, every=args.every)
        for name in ("model", "baseline"):
            table, spm = run_method(val3, methods[name])
            results[f"{name}_upscaled3x"] = {"scores": table, "seconds_per_megapixel": spm}
            print_table(f"val upscaled 3x, {name}, diameter=None ({spm:.2f} s/MP)", table)
        delta = results["model_upscaled3x"]["scores"]["overall"]["dsb"] - results["model"]["scores"]["overall"]["dsb"]
        print(f"\nDSB change at 3x scale: {delta:+.3f} (must stay within 0.05)")
    if not args.skip_memory:
        results["memory_4096"] = measure_memory(4096, tta=False)
        print(f"\n4096x4096: {json.dumps(results['memory_4096'])}")
        if not args.skip_tta:
            results["memory_4096_tta"] = measure_memory(4096, tta=True)
            print(f"4096x4096 with TTA: {json.dumps(results['memory_4096_tta'])}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

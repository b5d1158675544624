"""Contour suggestion on DSB2018 val: IoU per init kind and for touching nuclei, and latency.

    python benchmarks/bench_contour.py                 # IoU table + Python API latency
    python benchmarks/bench_contour.py --imagej        # also latency through the ImageJ command

For sampled val objects, simulated quick inits (rough polygon, short freehand line, loose box;
fixed seeds) go through ``suggest_contour``; each suggestion is rasterised with the ImageJ pixel
convention and compared with the ground-truth object (IoU), next to the IoU of the init itself
and of region growing (AnnotatorJ's classical method). Failures (no suggestion) count as IoU 0.
Each unet mean comes with a 95 % interval from redrawing the val images (bootstrap over images).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fiji_bridge.annotation import Annotation  # noqa: E402
from fiji_bridge.contour import data, unet  # noqa: E402
from fiji_bridge.contour.api import suggest_contour  # noqa: E402
from fiji_bridge.contour.crop import stroke_pixels  # noqa: E402
from fiji_bridge.contour.inits import CLOSED, INIT_KINDS, simulate, touching_labels  # noqa: E402
from fiji_bridge.errors import FijiBridgeError  # noqa: E402
from fiji_bridge.resources import DSB2018  # noqa: E402
from fiji_bridge.rois.labels import annotation_mask  # noqa: E402

VAL = DSB2018 / "val"
MIN_AREA = 15


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 0.0


def init_mask(init: np.ndarray, closed: bool, shape: tuple[int, int]) -> np.ndarray:
    return annotation_mask(Annotation(init), shape) if closed else stroke_pixels(init, False, shape)


def sample_objects(folder: Path, per_image: int, rng: np.random.Generator) -> list[tuple[str, int, bool]]:
    """(image id, label, touches a neighbour) for up to ``per_image`` random objects per image."""
    chosen = []
    for image_id in data.image_ids(folder):
        labels = data.load_pair(folder, image_id)[1]
        values, counts = np.unique(labels[labels > 0], return_counts=True)
        values = values[counts >= MIN_AREA]
        touching = touching_labels(labels)
        picked = rng.choice(values, size=min(per_image, values.size), replace=False)
        chosen += [(image_id, int(k), int(k) in touching) for k in sorted(picked)]
    return chosen


def score(folder: Path, objects: list, methods: list[str], rng: np.random.Generator) -> list[dict]:
    rows = []
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for image_id, k, touching in objects:
        if image_id not in cache:
            cache = {image_id: data.load_pair(folder, image_id)}
        image, labels = cache[image_id]
        gt = labels == k
        for kind in INIT_KINDS:
            init = simulate(kind, gt, rng, labels.shape)
            row = {"image": image_id, "label": k, "touching": touching, "kind": kind,
                   "init": iou(init_mask(init, CLOSED[kind], labels.shape), gt)}
            for method in methods:
                try:
                    poly = suggest_contour(image, init, method=method, closed=CLOSED[kind])
                    row[method] = iou(annotation_mask(Annotation(poly), labels.shape), gt)
                except FijiBridgeError:
                    row[method] = 0.0
            rows.append(row)
    return rows


def table(rows: list[dict], methods: list[str], image_kinds: dict[str, str]) -> dict:
    """Mean IoU per subset: all objects and touching ones per init kind, then per image kind."""
    subsets = [(f"{subset} / {kind}", lambda r, keep=keep, kind=kind: keep(r) and kind in ("all kinds", r["kind"]))
               for subset, keep in (("all objects", lambda r: True), ("touching nuclei", lambda r: r["touching"]))
               for kind in (*INIT_KINDS, "all kinds")]
    subsets += [(f"{name} images / all kinds", lambda r, name=name: image_kinds.get(r["image"]) == name)
                for name in sorted(set(image_kinds.values()))]
    out = {}
    for name, keep in subsets:
        sel = [r for r in rows if keep(r)]
        if sel:
            out[name] = {"n": len(sel), "images": len({r["image"] for r in sel}),
                         **{m: float(np.mean([r[m] for r in sel])) for m in ("init", *methods)},
                         "image_mean": {m: image_mean(sel, m) for m in methods},
                         "ci95": {m: image_bootstrap_interval(sel, m) for m in methods}}
    return out


def image_mean(rows: list[dict], key: str) -> float:
    """Mean over images of each image's mean ``key`` (every image weighs the same)."""
    per_image: dict[str, list[float]] = {}
    for r in rows:
        per_image.setdefault(r["image"], []).append(r[key])
    return float(np.mean([np.mean(v) for v in per_image.values()]))


def image_bootstrap_interval(rows: list[dict], key: str, resamples: int = 2000) -> tuple[float, float] | None:
    """95 % interval of the mean over rows of ``key`` when the val images are drawn again (with
    replacement, all rows of a drawn image kept): objects of one image are not independent, so
    this shows how far the figure could move on another set of images of the same kind. None
    for rows from a single image, where redrawing says nothing."""
    images = sorted({r["image"] for r in rows})
    if len(images) < 2:
        return None
    where = {image: i for i, image in enumerate(images)}
    sums, counts = np.zeros(len(images)), np.zeros(len(images))
    for r in rows:
        sums[where[r["image"]]] += r[key]
        counts[where[r["image"]]] += 1
    draws = np.random.default_rng(0).integers(0, len(images), (resamples, len(images)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def latency(folder: Path, objects: list, n: int, rng: np.random.Generator) -> dict:
    """Seconds per unet suggestion through the Python API after 10 warm-up calls."""
    calls = []
    for image_id, k, _ in objects[:: max(1, len(objects) // n)][:n]:
        image, labels = data.load_pair(folder, image_id)
        kind = INIT_KINDS[len(calls) % 3]
        calls.append((image, simulate(kind, labels == k, rng, labels.shape), CLOSED[kind]))
    for image, init, closed in calls[:10]:
        suggest_contour(image, init, closed=closed)
    times, failures = [], 0
    for image, init, closed in calls:
        t = time.perf_counter()
        try:
            suggest_contour(image, init, closed=closed)
        except FijiBridgeError:  # timed all the same, and counted
            failures += 1
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1e3
    return {"n": len(ms), "median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
            "failures": failures, "torch_threads": unet.INFERENCE_THREADS}


def imagej_latency(folder: Path, objects: list, n: int) -> dict:
    """Seconds per 'Suggest Contour' menu command (IJ.run on the current image with a polygon
    selection) in a real ImageJ under Xvfb, and per API call (numpy image already in Python) on
    the same inits, after warm-up."""
    import fiji_bridge
    from fiji_bridge.install import install
    from fiji_bridge.ij.images import current_plane, numpy_to_imageplus

    install()
    bridge = fiji_bridge.start(mode="interactive")
    import jpype

    IJ, WindowManager = jpype.JClass("ij.IJ"), jpype.JClass("ij.WindowManager")
    PolygonRoi, Roi = jpype.JClass("ij.gui.PolygonRoi"), jpype.JClass("ij.gui.Roi")
    rng = np.random.default_rng(3)
    images: dict[str, object] = {}
    calls = []
    for image_id, k, _ in objects[:: max(1, len(objects) // n)][:n]:
        image, labels = data.load_pair(folder, image_id)
        if image_id not in images:
            images[image_id] = numpy_to_imageplus(image, title=image_id)
            images[image_id].show()
        calls.append((images[image_id], simulate("polygon", labels == k, rng, labels.shape)))

    def select(imp, init):
        WindowManager.setTempCurrentImage(imp)
        xs, ys = (jpype.JArray(jpype.JFloat)(init[:, i].tolist()) for i in (0, 1))
        imp.setRoi(PolygonRoi(xs, ys, len(init), Roi.POLYGON))

    def timed(fn) -> list[float]:
        out = []
        for imp, init in calls:
            select(imp, init)
            t = time.perf_counter()
            fn(imp, init)
            out.append(time.perf_counter() - t)
        return out

    failures = {"command": 0, "api": 0}

    def command(imp, init) -> None:
        try:
            IJ.run(imp, "Suggest Contour", "method=unet max_distance=17")
        except RuntimeError:  # "Macro canceled" after the command reported an error (no object found)
            failures["command"] += 1

    planes = {id(imp): current_plane(imp) for imp in images.values()}

    def api(imp, init) -> None:
        try:
            suggest_contour(planes[id(imp)], init)
        except FijiBridgeError:
            failures["api"] += 1

    for imp, init in calls[:10]:
        select(imp, init)
        command(imp, init)
    failures["command"] = 0  # count only the timed calls
    cmd_ms, api_ms = [], []
    for _ in range(2):  # interleave so that load changes hit both alike
        cmd_ms += timed(command)
        api_ms += timed(api)
    bridge.close_images()
    cmd, ap = np.array(cmd_ms) * 1e3, np.array(api_ms) * 1e3
    large = _large_image_latency(bridge, folder, objects, rng, command, select)
    return {"n": len(cmd), "median_ms": float(np.median(cmd)), "p95_ms": float(np.percentile(cmd, 95)),
            "api_median_ms": float(np.median(ap)), "api_p95_ms": float(np.percentile(ap, 95)),
            "overhead_median_ms": float(np.median(cmd) - np.median(ap)), "large": large,
            "failures_command": failures["command"], "failures_api": failures["api"]}


def _large_image_latency(bridge, folder: Path, objects: list, rng: np.random.Generator, command, select,
                         side: int = 2048, rois: int = 2000) -> dict:
    """The command on a side x side RGB mosaic of one val image with ``rois`` ROIs (elsewhere) in
    the ROI Manager: what an annotation session on a large image reaches."""
    from fiji_bridge.ij.images import numpy_to_imageplus
    from fiji_bridge.ij.rois import rois_to_manager

    image_id = max({o[0] for o in objects}, key=lambda i: sum(o[0] == i for o in objects))
    image, labels = data.load_pair(folder, image_id)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    reps = (-(-side // labels.shape[0]), -(-side // labels.shape[1]))
    mosaic = np.tile(image, (*reps, 1))[:side, :side]
    centre = np.array([labels.shape[1] * (reps[1] // 2), labels.shape[0] * (reps[0] // 2)], float)
    imp = numpy_to_imageplus(mosaic, title="mosaic")
    imp.show()
    squares = [Annotation(np.array([[x, y], [x + 6, y], [x + 6, y + 6], [x, y + 6]], float))
               for x, y in zip(np.arange(rois) % 40 * 8.0, np.arange(rois) // 40 * 8.0)]
    rois_to_manager(bridge, squares, clear=True)
    calls = [(imp, simulate("polygon", labels == k, rng, labels.shape) + centre)
             for i, k, _ in objects if i == image_id]
    for _, init in calls[:5]:
        select(imp, init)
        command(imp, init)
    times = []
    for _ in range(3):
        for _, init in calls:
            select(imp, init)
            t = time.perf_counter()
            command(imp, init)
            times.append(time.perf_counter() - t)
    rois_to_manager(bridge, [], clear=True)
    bridge.close_images()
    ms = np.array(times) * 1e3
    return {"n": len(ms), "side": side, "rois": rois, "median_ms": float(np.median(ms)),
            "p95_ms": float(np.percentile(ms, 95))}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--val", type=Path, default=VAL)
    p.add_argument("--per-image", type=int, default=6, help="objects sampled per val image")
    p.add_argument("--seed", type=int, default=0, help="draws the objects (seed 10 x S) and their inits "
                   "(10 x S + 1); the README gives seeds 0, 2-5")
    p.add_argument("--methods", default="unet,region_growing,active_contour")
    p.add_argument("--latency-calls", type=int, default=200)
    p.add_argument("--imagej", action="store_true", help="also time the Suggest Contour ImageJ command")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    methods = args.methods.split(",")
    objects = sample_objects(args.val, args.per_image, np.random.default_rng(10 * args.seed))
    print(f"{len(objects)} val objects ({sum(o[2] for o in objects)} touching a neighbour), "
          f"{len(INIT_KINDS)} init kinds each", flush=True)
    t0 = time.perf_counter()
    kinds_file = args.val.parent / "kinds.json"
    image_kinds = json.loads(kinds_file.read_text()) if kinds_file.is_file() else {}
    rows = score(args.val, objects, methods, np.random.default_rng(10 * args.seed + 1))
    results = {"iou": table(rows, methods, image_kinds)}
    print(f"scored in {time.perf_counter() - t0:.0f} s\n")
    header = f"{'mean IoU':34s} {'n':>4s} {'images':>6s} " + " ".join(f"{m:>15s}" for m in ("init", *methods))
    print(header + f"  {methods[0]} mean over images  {methods[0]} 95% interval (images redrawn)")
    for name, r in results["iou"].items():
        interval = r["ci95"][methods[0]]
        print(f"{name:34s} {r['n']:4d} {r['images']:6d} " + " ".join(f"{r[m]:15.3f}" for m in ("init", *methods))
              + f"  {r['image_mean'][methods[0]]:22.3f}"
              + (f"  {interval[0]:.3f}-{interval[1]:.3f}" if interval else "  - (one image)"))
    results["latency_api"] = latency(args.val, objects, args.latency_calls, np.random.default_rng(2))
    lat = results["latency_api"]
    print(f"\nunet latency, Python API ({lat['n']} calls after warm-up, {lat['torch_threads']} torch threads): "
          f"median {lat['median_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms, failed calls {lat['failures']}")
    if args.imagej:
        results["latency_imagej"] = imagej_latency(args.val, objects, args.latency_calls)
        lij = results["latency_imagej"]
        print(f"unet latency, ImageJ command 'Suggest Contour' ({lij['n']} calls): median {lij['median_ms']:.1f} ms, "
              f"p95 {lij['p95_ms']:.1f} ms; same inits through the API: median {lij['api_median_ms']:.1f} ms, "
              f"p95 {lij['api_p95_ms']:.1f} ms; command overhead (median) {lij['overhead_median_ms']:.1f} ms; "
              f"failed calls: command {lij['failures_command']}, API {lij['failures_api']} (large image included)")
        big = lij["large"]
        print(f"unet latency, ImageJ command on a {big['side']}x{big['side']} RGB image with {big['rois']} ROIs in the "
              f"ROI Manager ({big['n']} calls): median {big['median_ms']:.1f} ms, p95 {big['p95_ms']:.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Round trips on every dsb2018/val mask: labels -> ROIs -> each export -> import -> labels, with timings.

Run: .venv/bin/python benchmarks/bench_exchange.py [VAL_FOLDER]
"""
import argparse, time, tempfile, json
from pathlib import Path
import numpy as np, tifffile
from pycocotools.coco import COCO
from pycocotools import mask as M
from scipy import ndimage
from fiji_bridge.rois.labels import labels_to_annotations
from fiji_bridge.formats import ImageAnnotations, export_annotations, import_annotations
from fiji_bridge.formats.masks import label_mask
from fiji_bridge.formats.bbox import bounding_box
from fiji_bridge.formats.coco import read_coco
from fiji_bridge.resources import DSB2018

_args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_args.add_argument("val", nargs="?", type=Path, default=DSB2018 / "val", help="the val folder (images/, masks/)")
val = _args.parse_args().val
cases = []
for p in sorted((val / "masks").glob("*.tif")):
    lab = tifffile.imread(p); anns = labels_to_annotations(lab)
    for a in anns: a.group = int(a.name) % 3
    cases.append((p.name, lab, anns))
items = [ImageAnnotations(n, l.shape, a) for n, l, a in cases]
n_obj = sum(len(a) for *_, a in cases)
print(f"{len(cases)} masks, {n_obj} objects ({sum(x.roi_type == 'composite' for *_, a in cases for x in a)} composite)")
out = Path(tempfile.mkdtemp())
folder = {"labels": "labelled_masks", "layered": "layered_masks", "binary": "binary_masks", "bbox": "bounding_box_coordinates"}
suffix = {"labels": ".tiff", "layered": ".tiff", "binary": ".tiff", "bbox": ".csv"}
for fmt in ["labels", "layered", "binary", "bbox", "coco", "yolo-polygons", "yolo-boxes"]:
    dest = out / fmt
    t0 = time.perf_counter()
    if fmt.startswith("yolo"):
        export_annotations(items, dest, ["yolo"], yolo_mode=fmt.split("-")[1])
    else:
        export_annotations(items, dest, [fmt])
    t1 = time.perf_counter()
    if fmt == "coco":
        back = {i.file_name: i.annotations for i in read_coco(dest / "coco" / "annotations.json")[0]}
    else:
        back = {}
        for n, lab, _ in cases:
            stem = Path(n).stem
            f = dest / "yolo" / f"{stem}.txt" if fmt.startswith("yolo") else dest / folder[fmt] / f"{stem}{suffix[fmt]}"
            back[n] = import_annotations(f, shape=lab.shape)[0].annotations
    t2 = time.perf_counter()
    same_obj = same_cls = same_img = components = 0
    for n, lab, anns in cases:
        b = back[n]
        same_cls += sum(x.group == y.group for x, y in zip(anns, b)) if len(b) == len(anns) else 0
        if fmt in ("bbox", "yolo-boxes"):
            same_obj += sum(bounding_box(x) == bounding_box(y) for x, y in zip(anns, b))
        elif fmt == "binary":
            same_img += np.array_equal(label_mask(b, lab.shape) > 0, lab > 0)
            components += ndimage.label(lab > 0, structure=np.ones((3, 3)))[1]
            same_obj += len(b)
        else:
            rec = label_mask(b, lab.shape, by="name" if fmt != "yolo-polygons" else "index")
            same_img += np.array_equal(rec, lab)
            same_obj += sum(np.array_equal(rec == int(a.name), lab == int(a.name)) for a in anns)
    extra = ""
    if fmt == "coco":
        coco = COCO(str(dest / "coco" / "annotations.json"))  # pycocotools loads and indexes the file
        data = coco.dataset
        by_name = {n: (lab, {a.name: a for a in anns}) for n, lab, anns in cases}
        rel, decoded_same = [], 0
        for e in data["annotations"]:
            lab, _ = by_name[coco.imgs[e["image_id"]]["file_name"]]
            pixels = coco.annToMask(e).astype(bool)  # pycocotools' own decoding of polygons / RLE
            decoded_same += np.array_equal(pixels, lab == int(e["name"]))
            rel.append(abs(float(M.area(coco.annToRLE(e))) - e["area"]) / e["area"])
        extra = (f"; pycocotools decodes {decoded_same}/{len(data['annotations'])} identical; area vs pixel area: "
                 f"max rel diff {max(rel):.4f}, RLE objects {sum(isinstance(e['segmentation'], dict) for e in data['annotations'])}")
    what = (f"objects out (binary: 8-connected components, {components} in the masks)" if fmt == "binary"
            else "objects identical")
    print(f"{fmt:14s} export {t1-t0:5.1f}s import {t2-t1:5.1f}s | images identical {same_img}/{len(cases)} | {what} {same_obj}/{n_obj} | classes kept {same_cls}/{n_obj}{extra}")

"""``fiji-bridge export``, ``fiji-bridge import`` and ``fiji-bridge opsef import|export``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fiji_bridge.errors import InputError

FORMAT_HELP = "binary, labels, layered, bbox, coco, yolo (comma-separated or repeated), or all"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the annotation-exchange commands."""
    _register_export(subparsers)
    _register_import(subparsers)
    _register_opsef(subparsers)


def _register_export(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export ROIs as masks, boxes, COCO or YOLO (AnnotatorJ folder layout)",
        description="Export <img>_ROIs.zip files (or one ROI zip) into training-data formats. "
                    "Outputs go to OUTDIR/labelled_masks, layered_masks, binary_masks, "
                    "bounding_box_coordinates, yolo, coco, with Class_NN/ subfolders for classes.")
    p.add_argument("rois", type=Path, help="a RoiSet .zip/.roi, or a folder of <img>_ROIs.zip files")
    p.add_argument("--image", type=Path, required=True, help="the image, or the folder of images")
    p.add_argument("--format", action="append", required=True, help=FORMAT_HELP)
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--yolo-mode", choices=("boxes", "polygons"), default="boxes",
                   help="YOLO boxes (class xc yc w h) or polygons (class x1 y1 ...); default boxes")
    p.add_argument("--label-values", choices=("index", "name"), default="index",
                   help="label mask values: ROI index + 1 (AnnotatorJ, default) or the integer ROI name")
    p.add_argument("--class-name", action="append", default=[], metavar="N=NAME",
                   help="name of class (ROI group) N for COCO/YOLO, e.g. 1=nucleus (default Class_NN)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=_run_export)


def _register_import(subparsers: argparse._SubParsersAction) -> None:
    from fiji_bridge.formats.imports import IMPORT_KINDS
    p = subparsers.add_parser(
        "import", help="turn label/binary/layered masks, box CSVs, YOLO or COCO files into ROI zips",
        description="Import annotation files (or folders of them) as ROIs; writes OUTDIR/<img>_ROIs.zip "
                    "per image. Label masks keep the label in the ROI name (label 7 -> 0007); classes come from "
                    "COCO categories, YOLO class ids or AnnotatorJ Class_NN/ subfolders.")
    p.add_argument("inputs", type=Path, nargs="+", help="mask, CSV, YOLO .txt or COCO .json files or folders")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder for <img>_ROIs.zip")
    p.add_argument("--kind", choices=IMPORT_KINDS, default="auto",
                   help="what the inputs are (default: from extension and AnnotatorJ folder name)")
    p.add_argument("--image", type=Path, help="image or image folder (YOLO needs the image size)")
    p.add_argument("--connectivity", type=int, choices=(4, 8), default=8,
                   help="how binary-mask pixels join into objects (default 8)")
    p.add_argument("--class", dest="group", default="", metavar="N",
                   help="give every ROI class (ROI group) N, 0..255 (default: the file's classes, "
                        "or NN for a file in a Class_NN folder)")
    p.add_argument("--overwrite", action="store_true", help="replace existing ROI zips")
    p.set_defaults(func=_run_import)


def _register_opsef(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("opsef", help="import or export an OpSeF project (FilePairList)")
    sub = p.add_subparsers(dest="opsef_command", metavar="{import,export}", required=True)
    imp = sub.add_parser("import", help="read a FilePairList into a stack TIFF and a RoiSet.zip",
                         description="Writes OUTDIR/<list>_stack.tif (one slice per line) and "
                                     "OUTDIR/<list>_RoiSet.zip (ROI position = slice).")
    imp.add_argument("pair_list", type=Path, help="10_ImportExport/FilePairList_*.txt")
    imp.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    imp.add_argument("--overwrite", action="store_true", help="replace existing output files")
    imp.set_defaults(func=_run_opsef_import)
    exp = sub.add_parser("export", help="write ROIs back into the OpSeF project",
                         description="Writes 12_TmpRoisFromFiji, 11_SegMasksFromFiji, "
                                     "13_ClassifiedSegMasksFromFiji and 10_ImportExport/"
                                     "FilePairList_fromFiji_*.txt into the project.")
    exp.add_argument("pair_list", type=Path, help="the FilePairList the stack was imported from")
    exp.add_argument("--rois", type=Path, required=True, help="RoiSet.zip of the stack (position = slice)")
    exp.add_argument("--overwrite", action="store_true", help="replace files of an earlier export")
    exp.set_defaults(func=_run_opsef_export)


def parse_class_names(values: list[str]) -> dict[int, str]:
    """``["1=nucleus"]`` -> ``{1: "nucleus"}``."""
    names = {}
    for item in values:
        number, sep, name = item.partition("=")
        if not sep or not number.strip().isdigit() or not 0 <= int(number) <= 255 or not name.strip():
            raise InputError(f"--class-name wants N=NAME with N in 0..255, got {item!r}")
        names[int(number)] = name.strip()
    return names


def _run_export(args: argparse.Namespace) -> int:
    from fiji_bridge.formats.exports import (covered_note, export_annotations, left_out, pair_rois_with_images,
                                             parse_formats, roi_count, unpaired_roisets)
    formats = parse_formats(args.format)
    items = pair_rois_with_images(args.rois, args.image)
    written = export_annotations(items, args.output, formats, overwrite=args.overwrite,
                                 yolo_mode=args.yolo_mode, label_values=args.label_values,
                                 class_names=parse_class_names(args.class_name))
    skipped = left_out(items)
    rois = roi_count(items) - len(skipped)
    print(f"exported {rois} ROIs of {len(items)} image(s) as {', '.join(formats)}: "
          f"{len(written)} files in {args.output}")
    for line in skipped:
        print(f"left out: {line}", file=sys.stderr)
    for roiset in unpaired_roisets(args.rois, args.image):
        print(f"left out: {roiset}: no image of that name in {args.image}", file=sys.stderr)
    covered = covered_note(items, formats)
    if covered:
        print(f"note: {covered}", file=sys.stderr)
    return 0


def _run_import(args: argparse.Namespace) -> int:
    from fiji_bridge.formats.imports import class_option, import_annotations, write_roisets
    from fiji_bridge.formats.plane_files import merge_planes
    group = class_option(args.group, "--class")
    items = []
    for path in _expand(args.inputs):
        items += import_annotations(path, args.kind, image=args.image, connectivity=args.connectivity)
    for ann in (a for item in items for a in item.annotations) if group is not None else ():
        ann.group = group
    items = merge_planes(items)  # the plane files <img>-NNNN of a stack: one <img>_ROIs.zip
    written = write_roisets(items, args.output, overwrite=args.overwrite)
    for item in items:
        print(f"{item.file_name}: {len(item.annotations)} ROIs")
    print(f"wrote {len(written)} ROI zip(s) to {args.output}")
    return 0


def _run_opsef_import(args: argparse.Namespace) -> int:
    from fiji_bridge.formats.atomic import WriteBatch
    from fiji_bridge.formats.images import add_tiff
    from fiji_bridge.formats.opsef import load_opsef
    from fiji_bridge.rois.roiset import write_roiset
    stack = load_opsef(args.pair_list)
    stem = args.pair_list.stem
    batch = WriteBatch(overwrite=args.overwrite)
    add_tiff(batch, args.output / f"{stem}_stack.tif", stack.images,
             slice_labels=[p.image.name for p in stack.project.pairs])
    batch.add(args.output / f"{stem}_RoiSet.zip", lambda tmp: write_roiset(tmp, stack.annotations))
    written = batch.commit()
    print(f"{len(stack.project.pairs)} slices, {len(stack.annotations)} ROIs "
          f"({sum(stack.from_tmp_rois)} slices from {'12_TmpRoisFromFiji'}); wrote "
          + ", ".join(str(p) for p in written))
    return 0


def _run_opsef_export(args: argparse.Namespace) -> int:
    from fiji_bridge.formats.opsef import export_opsef
    from fiji_bridge.rois.roiset import read_roiset
    written = export_opsef(args.pair_list, read_roiset(args.rois), overwrite=args.overwrite)
    print(f"wrote {len(written)} files into the OpSeF project")
    return 0


def _expand(inputs: list[Path]) -> list[Path]:
    """Files as given, folders as their annotation files (not recursive)."""
    from fiji_bridge.formats.images import IMAGE_SUFFIXES
    suffixes = {*IMAGE_SUFFIXES, ".json", ".csv", ".txt", ".zip", ".roi"}
    files = []
    for path in inputs:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes
                           and not p.name.startswith(".") and p.name != "classes.txt")
            if not found:
                raise InputError(f"no annotation files in folder {path}")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"input {path} does not exist")
    return files

"""``fiji-bridge segment`` (batch nucleus segmentation) and ``fiji-bridge demo``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fiji_bridge.errors import InputError

DEMO_DIR = Path("fiji_bridge_demo")
UNREADABLE_NAMED = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``segment`` and ``demo``."""
    p = subparsers.add_parser(
        "segment", help="segment nuclei in images (nucleAIzer pipeline) into label images and ROI zips",
        description="Writes OUTDIR/<stem>_labels.tif (label image; a stack for TIFF stacks/hyperstacks, "
                    "one slice per Z/T plane) and OUTDIR/<stem>_ROIs.zip (ImageJ ROI Manager, names 0001..., "
                    "position = slice for stacks). A folder's files that are batch outputs (recorded in its batch "
                    "summary, or, in OUTDIR, the outputs of this run's inputs) are not inputs. Inputs already "
                    "done (outputs written by a batch from the same, unchanged input with the same options) "
                    "are skipped; an existing file the batch did not write from that input is never replaced "
                    "without --overwrite (the batch refuses before it starts). An unreadable input is reported "
                    "and the batch goes on; the exit status is 1 if any input failed or no readable image was "
                    "found. "
                    "Runs on dask: local worker processes by default, or --scheduler; "
                    "failed inputs and their errors are listed in OUTDIR/fiji_bridge_batch_summary.json.")
    p.add_argument("inputs", type=Path, nargs="+", help="TIFF, PNG or JPEG files, or folders of them")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--diameter", type=float, default=None,
                   help="expected nucleus diameter in pixels (default: estimated per image)")
    p.add_argument("--tta", action="store_true", help="average 8 flips/rotations (about 8x slower)")
    p.add_argument("--channel", type=int, default=None,
                   help="segment this channel (1-based) of multi-channel images; default: channels are colour")
    p.add_argument("--overwrite", action="store_true",
                   help="redo the inputs given even if done, replacing their output files whoever wrote them")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local dask worker processes, one core each (default: one per core)")
    p.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="run on an existing dask.distributed cluster, e.g. tcp://HOST:8786 "
                        "(inputs and OUTDIR must be on a file system the workers share)")
    p.add_argument("--resume", action="store_true",
                   help="continue a batch that was killed: keep finished outputs, redo the rest")
    p.set_defaults(func=run_segment)

    d = subparsers.add_parser("demo", help="segment the bundled sample image into ./fiji_bridge_demo/")
    d.add_argument("-o", "--output", type=Path, default=DEMO_DIR, help="output folder (default ./fiji_bridge_demo)")
    d.set_defaults(func=run_demo)


def collect_inputs(inputs: list[Path], outdir: Path) -> tuple[list[Path], list[str], list[Path]]:
    """Image files from files and folders (folders: direct children), errors for bad arguments,
    and the files in those folders that segment cannot read. A folder's files that are batch
    outputs are left out: those its batch summary records and, in the output folder, the
    outputs of this run's images (``<stem>_labels.tif`` of an input ``<stem>.png``)."""
    from fiji_bridge.batch.engine import SUMMARY_NAME
    from fiji_bridge.nucleaizer.files import SUFFIXES, output_paths

    listed: dict[Path, list[Path]] = {}
    found, errors = [], []
    for item in inputs:
        if item.is_dir():
            listed[item] = sorted(p for p in item.iterdir() if p.is_file() and not p.name.startswith("."))
            found += [p for p in listed[item] if p.suffix.lower() in SUFFIXES]
        elif item.is_file():
            found.append(item)
        else:
            errors.append(f"error: {item}: no such file or folder")
    outputs = {path for folder in listed for path in _recorded_outputs(folder)}
    made_here = [folder for folder in listed if _same_folder(folder, outdir)]
    given = {item for item in inputs if item.is_file()}
    accepted = set()
    for image in sorted(found, key=lambda p: len(p.stem)):  # an output's stem is longer than its input's
        if image in given or image not in outputs:
            accepted.add(image)
            outputs.update(path for folder in made_here for path in output_paths(image, folder))
    files = [p for p in found if p in accepted]
    unreadable = [p for children in listed.values() for p in children if p.suffix.lower() not in SUFFIXES
                  and p not in outputs and p.name != SUMMARY_NAME]
    return files, errors, unreadable


def _recorded_outputs(folder: Path) -> set[Path]:
    """The files of ``folder`` that its batch summary records as outputs (none without a
    readable summary of this fiji-bridge)."""
    from fiji_bridge.batch.engine import read_summary
    from fiji_bridge.batch.ledger import Ledger

    try:
        return Ledger.from_summary(folder, read_summary(folder)).files()
    except InputError:
        return set()


def _same_folder(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are the same existing folder (however they are written)."""
    try:
        return a.samefile(b)
    except OSError:
        return False


def run_segment(args: argparse.Namespace) -> int:
    from fiji_bridge.batch.commands import segment_batch
    from fiji_bridge.batch.tasks import SegmentOptions
    from fiji_bridge.nucleaizer.files import SUFFIXES

    _check_options(args)
    files, errors, unreadable = collect_inputs(args.inputs, args.output)
    for message in errors:
        print(message, file=sys.stderr)
    supported = ", ".join(SUFFIXES)
    if unreadable:
        names = ", ".join(str(p) for p in unreadable[:UNREADABLE_NAMED])
        more = f" and {len(unreadable) - UNREADABLE_NAMED} more" if len(unreadable) > UNREADABLE_NAMED else ""
        print(f"note: skipped {len(unreadable)} file(s) segment cannot read (it reads {supported}): {names}{more}",
              file=sys.stderr)
    if not files:
        where = ", ".join(map(str, args.inputs))
        raise InputError(f"no readable images found in {where}: segment reads {supported} files")
    missing = {str(item): "no such file or folder" for item in args.inputs if not item.exists()}
    report = segment_batch(
        files, args.output, SegmentOptions(args.diameter, args.tta, args.channel), rejected=missing,
        scheduler=args.scheduler, workers=args.workers, resume=args.resume, overwrite=args.overwrite,
    )
    return 1 if report.failed else 0


def _check_options(args: argparse.Namespace) -> None:
    """Refuse bad option values before a cluster starts and the output folder is claimed."""
    import math

    from fiji_bridge.nucleaizer.inference import load_model
    from fiji_bridge.nucleaizer.pipeline import diameter_range

    check_output_folder(args.output)
    if args.diameter is not None:
        low, high = diameter_range(load_model())
        if not (math.isfinite(args.diameter) and low <= args.diameter <= high):
            raise InputError(f"--diameter must be between {low:g} and {high:g} pixels (leave it out to "
                             f"estimate it per image), got {args.diameter:g}")
    if args.channel is not None and args.channel < 1:
        raise InputError(f"--channel counts from 1, got {args.channel}")
    if args.scheduler is not None and ":" not in args.scheduler.split("://")[-1]:
        raise InputError(f"--scheduler needs HOST:PORT (e.g. tcp://HOST:8786), got {args.scheduler!r}")


def check_output_folder(path: Path) -> None:
    """Refuse an output folder (-o) that is a file or lies inside one, in one line naming it."""
    for folder in (path, *path.parents):
        if folder.is_dir():
            return
        if folder.exists() or folder.is_symlink():
            kind = "a file" if folder.exists() else "a broken link"
            where = f"{path} is {kind}" if folder == path else f"{path} cannot be made: {folder} is {kind}"
            raise InputError(f"the output folder (-o) {where}, not a folder; give a folder (made when missing)")


def run_demo(args: argparse.Namespace) -> int:
    import time

    import tifffile

    from fiji_bridge.data import SAMPLE_NUCLEI
    from fiji_bridge.nucleaizer.files import output_paths, segment_file
    from fiji_bridge.nucleaizer.targets import median_diameter

    check_output_folder(args.output)
    start = time.perf_counter()
    count = segment_file(SAMPLE_NUCLEI, args.output)
    labels_path, rois_path = output_paths(SAMPLE_NUCLEI, args.output)
    labels = tifffile.imread(labels_path)
    print(f"sample image: {SAMPLE_NUCLEI} ({labels.shape[1]}x{labels.shape[0]})")
    print(f"nuclei found: {count}, median diameter {median_diameter(labels):.1f} px, "
          f"{time.perf_counter() - start:.1f} s")
    print(f"label image:  {labels_path}")
    print(f"ROIs:         {rois_path} (open with ImageJ's ROI Manager)")
    return 0

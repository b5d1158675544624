"""Per-file batch tasks: top-level, picklable functions that dask workers run on one Job.

A task reads its input, computes, writes every output atomically and may return a dict of
numbers for the summary (``megapixels`` is summed into throughput). Options travel as plain
values, never a loaded model, so each worker process loads the model once (the pipeline
caches it) and nothing large is pickled per task.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fiji_bridge.batch.engine import Job


@dataclass(frozen=True)
class SegmentOptions:
    """What ``segment_nuclei`` gets besides the image; recorded in the summary for --resume."""

    diameter: float | None = None
    tta: bool = False
    channel: int | None = None


def segment_jobs(images: Iterable[Path], outdir: Path) -> tuple[list[Job], dict[str, str]]:
    """One Job per image (outputs ``<stem>_labels.tif``, ``<stem>_ROIs.zip``) and, apart, the
    inputs rejected because an earlier input has the same stem (their outputs would collide).
    An image given twice is one job."""
    from fiji_bridge.nucleaizer.files import output_paths

    jobs: dict[str, Job] = {}
    rejected: dict[str, str] = {}
    for image in map(Path, images):
        if image.stem in jobs:
            if jobs[image.stem].source != image:
                rejected[str(image)] = f"same name as {jobs[image.stem].source}; outputs would collide"
            continue
        jobs[image.stem] = Job(image, output_paths(image, outdir))
    return list(jobs.values()), rejected


def segment_image(job: Job, options: SegmentOptions) -> dict[str, float]:
    """Segment every plane of ``job.source`` into ``job.outputs`` (labels TIFF, ROI zip)."""
    import tifffile

    from fiji_bridge.nucleaizer.files import segment_file

    objects = segment_file(job.source, job.outputs[0].parent, diameter=options.diameter,
                           tta=options.tta, channel=options.channel)
    with tifffile.TiffFile(job.outputs[0]) as tif:
        shape = tif.series[0].shape
    planes = 1
    for size in shape[:-2]:
        planes *= size
    return {"objects": float(objects), "megapixels": planes * shape[-2] * shape[-1] / 1e6}

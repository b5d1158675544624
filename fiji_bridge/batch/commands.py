"""Batch versions of per-image CLI commands: build the jobs, run them on dask, print the outcome."""
from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path

from fiji_bridge.batch.engine import SUMMARY_NAME, BatchReport, Job, run_batch
from fiji_bridge.batch.tasks import SegmentOptions, segment_image, segment_jobs
from fiji_bridge.errors import FijiBridgeError


def segment_batch(
    images: Sequence[Path],
    outdir: Path,
    options: SegmentOptions,
    *,
    rejected: Mapping[str, str] | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> BatchReport:
    """Segment ``images`` into ``outdir`` on a dask cluster; print one line per failure and a total.

    Paths are made absolute so workers started elsewhere (``scheduler``) find the same files
    on a shared file system.
    """
    outdir = Path(outdir).absolute()
    jobs, collisions = segment_jobs((Path(p).absolute() for p in images), outdir)
    rejected = {**(rejected or {}), **collisions}
    for source, error in collisions.items():
        print(f"error: {source}: {error}", file=sys.stderr)
    report = run_batch(
        jobs, partial(segment_task, options=options), outdir=outdir, options=asdict(options),
        rejected=rejected, resume=resume, overwrite=overwrite, scheduler=scheduler, workers=workers,
        progress=progress,
    )
    print(f"segmented {report.done}, skipped {report.skipped} (already done), failed {len(report.failed)} -> {outdir}")
    if report.failed:
        print(f"failed inputs and their errors: {outdir / SUMMARY_NAME}")
    return report


def segment_task(job: Job, options: SegmentOptions) -> dict[str, float]:
    """``segment_image``; an error that starts with the input's path loses it, as the batch names
    the input before each error (``error: INPUT: reason``)."""
    try:
        return segment_image(job, options)
    except FijiBridgeError as exc:
        prefix = f"{job.source}: "
        if not str(exc).startswith(prefix):
            raise
        raise type(exc)(str(exc)[len(prefix):]) from exc

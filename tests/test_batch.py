"""Batch segmentation on dask through the CLI: a real local cluster, a real scheduler with two
worker processes, a batch killed half-way and resumed, a corrupt input in the batch.

Every run segments the same real DSB2018 val images (256x256) with the bundled model, and
the outputs of each kind of run are compared with one uninterrupted local run.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import tifffile

from fiji_bridge.atomic import TEMP_PREFIX
from fiji_bridge.batch.engine import SUMMARY_NAME, Job, close_client, make_client, run_batch
from fiji_bridge.batch.tasks import SegmentOptions, segment_image, segment_jobs
from fiji_bridge.rois.labels import annotations_to_labels
from fiji_bridge.rois.roiset import read_roiset

N_IMAGES = 8
CORRUPT = {"corrupt.tif": b"this is not a TIFF file" * 10, "empty.png": b""}
CLI_TIMEOUT_S = 300


def _segment(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fiji_bridge.cli.main", "segment", *map(str, args)],
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S)


def _summary(outdir: Path) -> dict:
    return json.loads((outdir / SUMMARY_NAME).read_text())


def _stems(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.tif"))


def _assert_same_outputs(outdir: Path, reference: Path, stems: list[str]) -> None:
    """Label TIFF pixels and ROI zip entries (names and bytes) equal the reference run's."""
    for stem in stems:
        got = tifffile.imread(outdir / f"{stem}_labels.tif")
        want = tifffile.imread(reference / f"{stem}_labels.tif")
        assert got.dtype == want.dtype and np.array_equal(got, want), stem
        with zipfile.ZipFile(outdir / f"{stem}_ROIs.zip") as a, zipfile.ZipFile(reference / f"{stem}_ROIs.zip") as b:
            assert a.namelist() == b.namelist(), stem
            assert all(a.read(name) == b.read(name) for name in a.namelist()), stem


@pytest.fixture(scope="module")
def images(dsb_val: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of N_IMAGES small real val images (copied to a temp folder)."""
    folder = tmp_path_factory.mktemp("images")
    small = [p for p in sorted((dsb_val / "images").glob("*.tif")) if tifffile.TiffFile(p).series[0].shape[:2] == (256, 256)]
    for path in small[:N_IMAGES]:
        shutil.copy(path, folder / path.name)
    assert len(_stems(folder)) == N_IMAGES
    return folder


@pytest.fixture(scope="module")
def reference(images: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """One uninterrupted local run (2 workers) over the images plus two corrupt files."""
    inputs = tmp_path_factory.mktemp("with_corrupt")
    for path in images.iterdir():
        shutil.copy(path, inputs / path.name)
    for name, data in CORRUPT.items():
        (inputs / name).write_bytes(data)
    outdir = tmp_path_factory.mktemp("reference")
    return _segment(inputs, "-o", outdir, "--workers", 2), inputs, outdir


def test_corrupt_images_are_reported_and_the_rest_completes(reference, images):
    result, inputs, outdir = reference
    assert result.returncode == 1, result.stderr
    summary = _summary(outdir)
    assert summary["status"] == "complete"
    assert summary["inputs"] == N_IMAGES + len(CORRUPT)
    assert summary["done"] == N_IMAGES and summary["workers"] == 2
    failed = {Path(item["input"]).name: item["error"] for item in summary["failed"]}
    assert sorted(failed) == sorted(CORRUPT)
    for name, error in failed.items():
        assert "cannot read image" in error and name in error
        assert f"error: {inputs / name}" in result.stderr
    for stem in _stems(images):
        labels = tifffile.imread(outdir / f"{stem}_labels.tif")
        assert labels.shape == (256, 256) and labels.max() > 0
        assert np.array_equal(annotations_to_labels(read_roiset(outdir / f"{stem}_ROIs.zip"), labels.shape), labels)
    assert not list(outdir.glob("corrupt*")) and not list(outdir.glob("empty*"))
    assert f"segmented {N_IMAGES}, skipped 0 (already done), failed {len(CORRUPT)}" in result.stdout


def test_killed_batch_resumes_to_the_outputs_of_an_uninterrupted_run(images, reference, tmp_path):
    stems = _stems(images)
    outdir = tmp_path / "out"
    cli = [sys.executable, "-m", "fiji_bridge.cli.main", "segment", str(images), "-o", str(outdir), "--workers", "2"]
    run = subprocess.Popen(cli, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + CLI_TIMEOUT_S
    try:
        while len(list(outdir.glob("*_ROIs.zip"))) < 2 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the CLI, its scheduler and its worker processes
        run.wait()
    finished = [s for s in stems if all((outdir / f"{s}{suffix}").exists() for suffix in ("_labels.tif", "_ROIs.zip"))]
    assert 2 <= len(finished) < len(stems), f"kill came too late or too early: {len(finished)} done"
    assert _summary(outdir)["status"] == "running"
    kept = [outdir / f"{s}{suffix}" for s in finished for suffix in ("_labels.tif", "_ROIs.zip")]
    before = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in kept]
    # what a kill can leave besides finished jobs: a temporary file and a job with one of two outputs
    (outdir / f"{TEMP_PREFIX}killed.tif").write_bytes(b"half a file")
    unfinished = next(s for s in stems if s not in finished)
    (outdir / f"{unfinished}_ROIs.zip").unlink(missing_ok=True)
    (outdir / f"{unfinished}_labels.tif").write_bytes(b"stale")

    refused = _segment(images, "-o", outdir, "--workers", 2)
    assert refused.returncode == 1 and "--resume" in refused.stderr

    resumed = _segment(images, "-o", outdir, "--workers", 2, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    summary = _summary(outdir)
    assert summary["status"] == "complete" and summary["failed"] == []
    assert summary["skipped_already_done"] == len(finished)
    assert summary["done"] == len(stems) - len(finished)
    assert summary["stale_temporaries_removed"] >= 1
    assert not list(outdir.glob(TEMP_PREFIX + "*"))
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in kept] == before  # not redone
    _assert_same_outputs(outdir, reference[2], stems)
    assert sorted(p.name for p in outdir.iterdir()) == sorted(
        [f"{s}_labels.tif" for s in stems] + [f"{s}_ROIs.zip" for s in stems] + [SUMMARY_NAME])


def test_ctrl_c_in_a_terminal_stops_the_batch_with_one_line(images, tmp_path):
    """Ctrl-C in a terminal signals every process of the command, its worker processes too: one
    "interrupted" line and status 130, no traceback from the workers; the summary says so."""
    outdir = tmp_path / "out"
    cli = [sys.executable, "-m", "fiji_bridge.cli.main", "segment", str(images), "-o", str(outdir), "--workers", "2"]
    run = subprocess.Popen(cli, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + CLI_TIMEOUT_S
    while not list(outdir.glob("*_ROIs.zip")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole process group
    err = run.communicate(timeout=CLI_TIMEOUT_S)[1]
    assert run.returncode == 130
    assert "Traceback" not in err and err.rstrip().endswith("fiji-bridge segment: interrupted")
    assert _summary(outdir)["status"] == "interrupted"


def test_other_options_on_a_finished_folder_are_refused(reference, images):
    result = _segment(images, "-o", reference[2], "--diameter", 25)
    assert result.returncode == 1
    assert "other options" in result.stderr and "--overwrite" in result.stderr


@pytest.fixture
def dask_cluster(tmp_path: Path):
    """A dask scheduler and two single-threaded workers, each its own process, on 127.0.0.1."""
    scheduler_file = tmp_path / "scheduler.json"
    common = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": tmp_path}
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)], **common)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for name in ("w1", "w2"):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                           "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name], **common))
        from distributed import Client
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=120)
            pids = client.run(os.getpid)
        assert len(set(pids.values()) | {os.getpid()}) == 3  # separate processes
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_batch_on_an_existing_scheduler_with_two_worker_processes(dask_cluster, images, reference, tmp_path):
    outdir = tmp_path / "out"
    result = _segment(images, "-o", outdir, "--scheduler", dask_cluster)
    assert result.returncode == 0, result.stderr
    summary = _summary(outdir)
    assert summary["workers"] == 2 and summary["done"] == N_IMAGES
    assert len(summary["done_by_worker"]) == 2 and all(n >= 1 for n in summary["done_by_worker"].values())
    _assert_same_outputs(outdir, reference[2], _stems(images))
    from distributed import Client

    def cached_models() -> int:  # defined here so that it is pickled by value
        from fiji_bridge.nucleaizer import inference
        return len(inference._CACHE)

    with Client(dask_cluster, timeout="30s") as client:  # the model stays loaded in each worker
        assert list(client.run(cached_models).values()) == [1, 1]


def _worker_settings() -> tuple:
    import dask
    import torch

    return (dask.config.get("distributed.worker.profile.enabled"), dask.config.get("distributed.admin.tick.interval"),
            torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS"))


def test_local_workers_get_one_thread_and_no_profiler():
    client = make_client(None, 2)
    try:
        settings = client.run(_worker_settings)
    finally:
        close_client(client)
    assert len(settings) == 2
    assert all(s == (False, "500ms", 1, "1") for s in settings.values()), settings


def test_the_task_sent_per_input_is_small():
    import cloudpickle

    task = partial(segment_image, options=SegmentOptions(diameter=20.0, tta=True))
    assert len(cloudpickle.dumps((task, Job(Path("a.tif"), (Path("a_labels.tif"), Path("a_ROIs.zip")))))) < 1000


def _exit_on_crash(job: Job) -> dict[str, float]:
    """Write the job's output; for an input named crash*, first wait until the other jobs have
    finished (so no other job is lost with the worker), then kill the worker process."""
    if job.source.name.startswith("crash"):
        deadline = time.monotonic() + 30
        while len(list(job.outputs[0].parent.glob("*.done"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # let the worker report the other jobs' results
        os._exit(1)
    job.outputs[0].write_text(job.source.name)
    return {"megapixels": 1.0}


def test_a_dying_worker_fails_its_input_only(tmp_path):
    import dask

    sources = [tmp_path / f"{name}.txt" for name in ("a", "b", "c", "crash")]
    jobs = [Job(src, (tmp_path / "out" / f"{src.stem}.done",)) for src in sources]
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        report = run_batch(jobs, _exit_on_crash, outdir=tmp_path / "out", workers=1, progress=False)
    assert report.done == 3 and list(report.failed) == [str(tmp_path / "crash.txt")]
    assert report.failed[str(tmp_path / "crash.txt")].startswith("worker failed: its process died")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.done", "b.done", "c.done", SUMMARY_NAME]
    assert _summary(tmp_path / "out")["megapixels"] == 3.0


def test_inputs_with_the_same_stem_are_rejected(tmp_path):
    jobs, rejected = segment_jobs([tmp_path / "a" / "x.tif", tmp_path / "b" / "x.png", tmp_path / "y.tif"], tmp_path)
    assert [j.source.name for j in jobs] == ["x.tif", "y.tif"]
    assert list(rejected) == [str(tmp_path / "b" / "x.png")] and "collide" in rejected[str(tmp_path / "b" / "x.png")]
    assert jobs[0].outputs == (tmp_path / "x_labels.tif", tmp_path / "x_ROIs.zip")


def test_an_input_given_twice_is_one_job(tmp_path):
    jobs, rejected = segment_jobs([tmp_path / "x.tif", tmp_path / "y.tif", tmp_path / "x.tif"], tmp_path)
    assert [j.source.name for j in jobs] == ["x.tif", "y.tif"] and rejected == {}


def _malloc_trim_threshold() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_local_workers_keep_glibc_malloc_defaults(monkeypatch):
    """dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in their workers, which turns off glibc's
    dynamic mmap threshold (1024x1024 images ~1.6x slower); local clusters leave it unset."""
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    client = make_client(None, 1)
    try:
        values = client.run(_malloc_trim_threshold)
    finally:
        close_client(client)
    assert list(values.values()) == [None]
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ  # a nanny sets it in its own process too

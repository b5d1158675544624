"""Run one task per input file on a dask.distributed cluster, resumably.

Each job writes its outputs atomically, so an output that exists is complete. The summary
records which input each output was written from (``ledger.py``): a job is done, and skipped
when the batch runs again, when its outputs exist and were written from that same, unchanged
input file; a batch never replaces a file it did not write from that input unless told to
(``overwrite=True``), and refuses before anything runs. Inputs are streamed to
the cluster a bounded number at a time, results are recorded as they finish, and failures are
listed with their error in a summary file (``OUTDIR/fiji_bridge_batch_summary.json``, rewritten
as the batch goes) instead of stopping the batch.

The summary says "running" while the batch runs, "interrupted" after Ctrl-C and "complete" at
the end. A summary that is not "complete" means the batch did not finish (killed): running into
that folder again needs ``resume=True`` (or ``overwrite=True``). Repeated or resumed batches must
use the options recorded in the summary, and an overwriting batch with other options must
replace every recorded output, so one folder never mixes results of different options.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Any

from fiji_bridge.atomic import remove_stale_temporaries, write_text_atomic
from fiji_bridge.batch.ledger import Ledger
from fiji_bridge.errors import FijiBridgeError, InputError, RuntimeNotAvailable

SUMMARY_NAME = "fiji_bridge_batch_summary.json"
LOCK_NAME = ".fiji_bridge_batch.lock"  # held while a batch writes into the folder
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
IN_FLIGHT_PER_THREAD = 2
NAMED_IN_ERRORS = 5
SUMMARY_EVERY_S = 2.0
WORKER_WAIT_S = 60.0
# Local clusters: dask's defaults sample every worker's stack every 10 ms (the profiler behind the
# dashboard) and wake each process every 20 ms; on a 2-core machine with one busy worker per core
# that bookkeeping took ~6 % of the CPU away from the images (benchmarks/bench_batch.py).
# dask's nannies also set MALLOC_TRIM_THRESHOLD_=65536 in each worker: any explicit value turns
# off glibc's dynamic mmap threshold, so every large numpy temporary is a fresh mmap with its
# page faults, which made 1024x1024 images ~1.6x slower; None leaves glibc's default.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}

Task = Callable[["Job"], Mapping[str, float] | None]


@dataclass(frozen=True)
class Job:
    """One input and the output files its task writes."""

    source: Path
    outputs: tuple[Path, ...]


@dataclass(frozen=True)
class JobResult:
    """What a worker reports for one job: the error (None on success), warnings, where, how long."""

    source: str
    error: str | None
    worker: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    info: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass
class BatchReport:
    """What a batch did: counts, failures with their error, throughput."""

    options: dict[str, Any]
    ledger: Ledger  # which outputs the batch wrote, from which input (the summary's "outputs")
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    status: str = "running"
    workers: int = 0
    by_worker: Counter = field(default_factory=Counter)
    megapixels: float = 0.0
    seconds: float = 0.0
    job_seconds: list[float] = field(default_factory=list)
    job_cpu_seconds: list[float] = field(default_factory=list)
    stale_temporaries_removed: int = 0
    started: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def images_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "options": self.options, "started": self.started,
            "inputs": self.total, "done": self.done, "skipped_already_done": self.skipped,
            "failed": [{"input": src, "error": err} for src, err in sorted(self.failed.items())],
            "workers": self.workers, "done_by_worker": dict(sorted(self.by_worker.items())),
            "seconds": round(self.seconds, 3), "images_per_second": round(self.images_per_second, 4),
            "median_seconds_per_image": _median(self.job_seconds),
            "median_cpu_seconds_per_image": _median(self.job_cpu_seconds),
            "megapixels": round(self.megapixels, 4),
            "megapixels_per_second": round(self.megapixels / self.seconds, 4) if self.seconds > 0 else 0.0,
            "stale_temporaries_removed": self.stale_temporaries_removed,
            "outputs": self.ledger.entries,
        }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def limit_threads() -> None:
    """One thread per dask thread for numeric libraries, so workers don't oversubscribe cores.

    Set before torch is first imported (it reads OMP_NUM_THREADS) and again once it is.
    """
    for var in THREAD_VARIABLES:
        os.environ[var] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _worker_address() -> str:
    from distributed import get_worker
    try:
        return get_worker().address
    except ValueError:
        return "local"


def _describe(exc: BaseException) -> str:
    """A one-line error for the summary: plain message for user errors, else with the type."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(exc, (FijiBridgeError, OSError)) and first:
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _run_job(task: Task, job: Job) -> JobResult:
    """Run a task in a worker. Never raises: an exception becomes the result's error."""
    limit_threads()
    started, cpu_started = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            info, error = dict(task(job) or {}), None
        except Exception as exc:  # noqa: BLE001 - every failure becomes a summary entry
            info, error = {}, _describe(exc)
    limit_threads()
    return JobResult(str(job.source), error, _worker_address(), time.perf_counter() - started,
                     time.process_time() - cpu_started, info, tuple(dict.fromkeys(str(w.message) for w in caught)))


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def make_client(scheduler: str | None = None, workers: int | None = None) -> Any:
    """A dask client on an existing scheduler address, or on a new local cluster of
    ``workers`` single-threaded worker processes (default: one per core)."""
    import dask
    from distributed import Client, LocalCluster

    from fiji_bridge.batch.worker_signals import IgnoreCtrlC

    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise RuntimeNotAvailable(f"cannot reach the dask scheduler at {scheduler}: {exc}") from exc
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError as exc:
            client.close()
            raise RuntimeNotAvailable(f"no dask worker joined the scheduler at {scheduler} within {WORKER_WAIT_S:.0f} s") from exc
        return client
    n_workers = default_workers() if workers is None else workers
    if n_workers < 1:
        raise InputError(f"--workers must be at least 1, got {n_workers}")
    with dask.config.set(LOCAL_CLUSTER_CONFIG):  # the nannies hand this config to their workers
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
            host="127.0.0.1", env={var: "1" for var in THREAD_VARIABLES}, silence_logs=logging.ERROR,
            # no dashboard; the scheduler's small HTTP server on a free local port, not on 8787
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        )
    client = Client(cluster)
    client.register_plugin(IgnoreCtrlC())
    return client


def close_client(client: Any) -> None:
    """Close a client and the local cluster it owns, if any."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def read_summary(outdir: Path) -> dict[str, Any] | None:
    """The summary an earlier batch left in ``outdir``, or None."""
    path = outdir / SUMMARY_NAME
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable batch summary ({exc}); remove it and rerun with "
                         "--overwrite to start afresh") from exc
    if not isinstance(summary, dict):
        raise InputError(f"{path} is not a batch summary (a JSON object); remove it and rerun with "
                         "--overwrite to start afresh")
    return summary


@contextmanager
def _only_batch_in(outdir: Path) -> Iterator[None]:
    """Hold ``outdir``'s lock for the whole batch: a second batch into the same folder (whose
    summary and stale-temporary clean-up would collide with this one's) is refused. A folder
    made only for the lock is removed again when the batch writes nothing."""
    created = not outdir.exists()
    outdir.mkdir(parents=True, exist_ok=True)
    lock = outdir / LOCK_NAME
    try:
        with open(lock, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise InputError(f"another fiji-bridge batch is writing into {outdir}; wait until it ends, "
                                 "or use another output folder") from None
            try:
                yield
            finally:
                lock.unlink(missing_ok=True)
    finally:
        if created and outdir.is_dir() and not any(outdir.iterdir()):
            outdir.rmdir()


def _check_previous(outdir: Path, previous: dict[str, Any] | None, options: dict[str, Any], resume: bool,
                    overwrite: bool) -> None:
    """Refuse to mix a new batch into an interrupted one, or outputs made with other options."""
    if previous is None or overwrite:
        return
    if previous.get("status") != "complete" and not resume:
        raise InputError(
            f"{outdir} holds a batch that did not finish (started {previous.get('started')}); "
            "continue it with --resume, or start again with --overwrite"
        )
    if previous.get("options", {}) != options:
        raise InputError(
            f"{outdir} holds outputs made with other options {previous.get('options')}; "
            f"this run has {options}. Use the same options, another output folder, or --overwrite"
        )


def _ledger(outdir: Path, previous: dict[str, Any] | None, options: dict[str, Any], jobs: list[Job]) -> Ledger:
    """The output records this batch starts from: the earlier batch's with the same options;
    none with other options (--overwrite), once no output of theirs would stay beside the new."""
    earlier = Ledger.from_summary(outdir, previous)
    if previous is None or previous.get("options", {}) == options:
        earlier.prune()
        return earlier
    left = earlier.existing_outputs(job.source for job in jobs)
    if left:
        raise InputError(
            f"{outdir} holds {len(left)} outputs made with other options {previous.get('options')} from inputs "
            f"not in this run ({_first_names(left)}); --overwrite replaces only the outputs of this run's "
            "inputs, so the folder would mix results of different options. Use another output folder, "
            "add those inputs, or delete those files"
        )
    return Ledger(outdir)


def _first_names(paths: list[Path]) -> str:
    names = ", ".join(p.name for p in paths[:NAMED_IN_ERRORS])
    return names + (f" and {len(paths) - NAMED_IN_ERRORS} more" if len(paths) > NAMED_IN_ERRORS else "")


def _split(jobs: list[Job], ledger: Ledger, overwrite: bool) -> tuple[list[Job], int]:
    """The jobs to run and how many are done; refuses (before anything is written) when a job
    would replace a file the batch did not write from its input."""
    if overwrite:
        return list(jobs), 0
    todo, done, refusals = [], 0, []
    for job in jobs:
        finished, reasons = ledger.decide(job)
        if finished:
            ledger.confirm(job.source)
            done += 1
        else:
            todo.append(job)
            refusals += reasons
    if refusals:
        shown = "\n  ".join(refusals[:NAMED_IN_ERRORS])
        more = f"\n  ... and {len(refusals) - NAMED_IN_ERRORS} more" if len(refusals) > NAMED_IN_ERRORS else ""
        raise InputError(
            f"refusing to replace {len(refusals)} file(s) the batch did not write from the same input, "
            f"or that changed since; nothing was written:\n  {shown}{more}\n"
            "Use another output folder, or --overwrite to replace them"
        )
    return todo, done


def run_batch(
    jobs: Iterable[Job],
    task: Task,
    *,
    outdir: Path,
    options: Mapping[str, Any] | None = None,
    rejected: Mapping[str, str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    client: Any = None,
) -> BatchReport:
    """Run ``task`` on every job not yet done, on dask; keep the summary in ``outdir``.

    ``task`` must be a picklable top-level function (or a partial of one) that writes
    ``job.outputs`` atomically and may return a dict of numbers (``megapixels`` is summed).
    ``options`` (JSON-able) identify the batch: a resumed or repeated batch must use the same.
    ``rejected`` maps inputs that could not become jobs to their error; they count as failed.
    ``workers`` sizes a local cluster (default: one per core, at most one per job to do);
    ``scheduler`` uses an existing
    dask.distributed scheduler instead; ``client`` reuses an open client.
    """
    if scheduler and workers is not None:
        raise InputError("--workers sizes a local cluster; with --scheduler the cluster's own workers run the batch")
    outdir = Path(outdir)
    options = json.loads(json.dumps(dict(options or {})))
    jobs = list(jobs)
    with _only_batch_in(outdir):
        previous = read_summary(outdir)
        _check_previous(outdir, previous, options, resume, overwrite)
        ledger = _ledger(outdir, previous, options, jobs)
        todo, skipped = _split(jobs, ledger, overwrite)
        report = BatchReport(options=options, failed=dict(rejected or {}), ledger=ledger)
        report.total = len(report.failed) + len(jobs)
        report.skipped = skipped
        report.stale_temporaries_removed = remove_stale_temporaries(outdir)
        for job in todo:
            ledger.plan(job)
        summary = _SummaryWriter(outdir / SUMMARY_NAME, report)
        started = time.perf_counter()
        own_client = client is None and bool(todo)
        try:
            if todo:
                if own_client:  # a local cluster no larger than the work
                    local = None if scheduler else min(default_workers() if workers is None else workers, len(todo))
                    client = make_client(scheduler, local)
                summary.write()  # state "running" from here until the batch ends
                _run_todo(client, task, todo, report, summary, progress, started)
            report.status = "complete"
        except KeyboardInterrupt:
            report.status = "interrupted"
            raise
        finally:
            report.seconds = time.perf_counter() - started
            if summary.written or report.status == "complete":
                summary.write()
            if own_client and client is not None:
                close_client(client)
        return report


def _run_todo(client: Any, task: Task, todo: list[Job], report: BatchReport, summary: _SummaryWriter,
              progress: bool, started: float) -> None:
    """Stream the jobs through the cluster, recording and reporting each result."""
    from tqdm import tqdm

    threads = client.nthreads()
    report.workers = len(threads)
    window = IN_FLIGHT_PER_THREAD * max(1, sum(threads.values()))
    with tqdm(total=len(todo), desc="fiji-bridge", unit="image", disable=not progress,
              file=sys.stderr, dynamic_ncols=True) as bar:
        for result in _stream(client, task, todo, window):
            _record(report, result)
            for message in result.warnings:
                bar.write(f"warning: {result.source}: {message}", file=sys.stderr)
            if result.error is not None:
                bar.write(f"error: {result.source}: {result.error}", file=sys.stderr)
            report.seconds = time.perf_counter() - started
            bar.update(1)
            summary.write(force=result.error is not None)


def _record(report: BatchReport, result: JobResult) -> None:
    if result.error is None:
        report.done += 1
        report.by_worker[result.worker] += 1
        report.job_seconds.append(result.seconds)
        report.job_cpu_seconds.append(result.cpu_seconds)
        report.megapixels += float(result.info.get("megapixels", 0.0))
        report.failed.pop(result.source, None)
        report.ledger.done(result.source)
    else:
        report.failed[result.source] = result.error
        report.ledger.failed(result.source)


class _SummaryWriter:
    """Rewrites the summary file atomically, at most every SUMMARY_EVERY_S unless forced."""

    def __init__(self, path: Path, report: BatchReport) -> None:
        self.path, self.report, self.last, self.written = path, report, float("-inf"), False

    def write(self, *, force: bool = True) -> None:
        now = time.monotonic()
        if force or now - self.last >= SUMMARY_EVERY_S:
            text = _summary_text(self.report.as_dict())
            write_text_atomic(self.path, text, overwrite=True)
            self.last, self.written = now, True


def _summary_text(summary: dict[str, Any]) -> str:
    """The summary as indented JSON, one line per output record (large batches stay cheap to write)."""
    records = summary.pop("outputs")
    text = json.dumps(summary, indent=2)[:-2]
    lines = [f"    {json.dumps(source)}: {json.dumps(record)}" for source, record in records.items()]
    body = "{\n" + ",\n".join(lines) + "\n  }" if lines else "{}"
    return f'{text},\n  "outputs": {body}\n}}\n'


def _stream(client: Any, task: Task, todo: list[Job], window: int) -> Iterator[JobResult]:
    """Submit at most ``window`` jobs at a time; yield results as they finish.

    A job whose worker died (KilledWorker) or was cancelled becomes a failed result.
    """
    from distributed import KilledWorker, as_completed

    pending = iter(todo)
    sources = {}

    def submit(job: Job) -> Any:
        future = client.submit(_run_job, task, job, pure=False)
        sources[future.key] = str(job.source)
        return future

    finished = as_completed([submit(job) for job in islice(pending, window)])
    for future in finished:
        source = sources.pop(future.key)
        try:
            result = future.result()
        except KilledWorker:
            result = JobResult(source, "worker failed: its process died while running this input "
                                       "(out of memory, or a crash in native code)")
        except Exception as exc:  # noqa: BLE001 - the worker, not the task, failed
            result = JobResult(source, f"worker failed: {_describe(exc)}")
        future.release()
        nxt = next(pending, None)
        if nxt is not None:
            finished.add(submit(nxt))
        yield result

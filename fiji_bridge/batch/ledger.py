"""Which outputs in a batch folder a batch wrote, and from which input file.

The summary keeps one record per input (key: the input's real path, so a file reached through
a symlink or ``..`` is the same input): the input's size and modification time, and its output
files. A record is "planned" from the moment the batch takes the job on, before it reaches the
cluster: the batch may (re)write those outputs, and one that appears there later is the batch's
own (this is what makes a killed batch resumable). Once the job succeeds the record is "done",
with each output's size and modification time; when it fails, its outputs are removed with the
record (they belonged to the batch, and an input that failed has no outputs). A finished batch
leaves no "planned" record: the planned records of a summary whose batch completed are not
trusted.

From these records a later run decides per job: done (skip it), to do (any existing output is
the batch's own, written from this very input), or refused: an output exists that the batch
did not write from this input (a hand-made file, the output of another input with the same
name), or that was changed after the batch wrote it. ``--overwrite`` replaces them all the same.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fiji_bridge.errors import InputError

if TYPE_CHECKING:
    from fiji_bridge.batch.engine import Job

PLANNED, DONE = "planned", "done"


def stamp(path: Path) -> list[int] | None:
    """``[size, mtime_ns]`` of a file, or None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


class Ledger:
    """The output records of one batch folder (``entries``: input path -> record)."""

    def __init__(self, outdir: Path, entries: Mapping[str, dict[str, Any]] | None = None) -> None:
        self.outdir = Path(outdir)
        self.entries: dict[str, dict[str, Any]] = dict(entries or {})
        self._owners = {name: source for source, entry in self.entries.items() for name in entry["files"]}

    @classmethod
    def from_summary(cls, outdir: Path, summary: Mapping[str, Any] | None) -> Ledger:
        """The records of an earlier batch's summary (none without a summary)."""
        if summary is None:
            return cls(outdir)
        if "outputs" not in summary:
            raise InputError(f"the batch summary in {outdir} was written by an older fiji-bridge, which did not "
                             "record which input each output came from; rerun with --overwrite (it redoes the "
                             "inputs given) or use another output folder")
        entries = summary["outputs"]
        if not (isinstance(entries, dict) and all(_is_record(e) for e in entries.values())):
            raise InputError(f"the batch summary in {outdir} has unreadable output records; "
                             "remove it and start afresh with --overwrite")
        if summary.get("status") == "complete":  # left by a failure: its outputs are not the batch's
            entries = {k: e for k, e in entries.items() if e["state"] == DONE}
        return cls(outdir, entries)

    def files(self) -> set[Path]:
        """Every output file the records name (whether it exists or not)."""
        return {self.outdir / name for name in self._owners}

    def _name(self, path: Path) -> str:
        """How the records name an output: relative to the folder when inside it."""
        path = Path(path)
        return path.name if path.parent == self.outdir else str(path)

    def decide(self, job: Job) -> tuple[bool, list[str]]:
        """Whether ``job`` is done, and, if not, why each of its existing outputs may not be
        replaced without --overwrite (empty: the job may run)."""
        source = key(job.source)
        entry = self.entries.get(source)
        existing = [p for p in job.outputs if Path(p).exists()]
        input_stamp = stamp(job.source)
        if entry is not None and input_stamp is not None and entry["input"] == input_stamp \
                and len(existing) == len(job.outputs) and self._written(entry, job.outputs):
            return True, []
        reasons = (self._refusal(Path(p), source, entry) for p in existing)
        return False, [r for r in reasons if r is not None]

    def _written(self, entry: dict[str, Any], outputs: Iterable[Path]) -> bool:
        """Whether the outputs were written by the job of ``entry`` (a planned job's outputs
        are its own once they differ from what was there when it was planned)."""
        return entry["state"] == DONE or all(stamp(p) != entry["files"].get(self._name(p)) for p in outputs)

    def _refusal(self, path: Path, source: str, entry: dict[str, Any] | None) -> str | None:
        """Why ``path`` may not be replaced by the job of ``source``, or None when it may."""
        name = self._name(path)
        if entry is not None and name in entry["files"]:
            if entry["state"] == PLANNED or entry["files"][name] == stamp(path):
                return None
            return f"{path} was changed after the batch wrote it from {source}"
        owner = self._owners.get(name)
        if owner is not None and owner != source:
            return f"{path} was written from another input, {owner}"
        return f"{path} was not written by a batch from {source}"

    def plan(self, job: Job) -> None:
        """Record that the batch takes ``job`` on; an earlier record of another input with the
        same outputs is dropped (--overwrite gave its outputs to this one)."""
        source = key(job.source)
        names = [self._name(p) for p in job.outputs]
        for owner in {self._owners.get(n) for n in names} - {None, source}:
            self._forget(owner)
        self.entries[source] = {"input": stamp(job.source), "state": PLANNED,
                                "files": {n: stamp(p) for n, p in zip(names, job.outputs)}}
        self._owners.update(dict.fromkeys(names, source))

    def done(self, source: str | os.PathLike) -> None:
        """Record that the job of ``source`` wrote its outputs."""
        entry = self.entries[key(source)]
        entry["state"] = DONE
        entry["files"] = {name: stamp(self.outdir / name) for name in entry["files"]}

    def confirm(self, source: str | os.PathLike) -> None:
        """A job found done: a planned one (finished by a killed batch) is recorded as done; a
        done one keeps its stamps (an output edited since stays the person's)."""
        if self.entries[key(source)]["state"] == PLANNED:
            self.done(source)

    def failed(self, source: str | os.PathLike) -> None:
        """The job of ``source`` failed: remove its outputs (the batch's own: written before from
        this input, or given to it by --overwrite) and its record, so no result of another version
        of the input or of other options stays, and no "planned" record outlives the batch."""
        for name in self.entries[key(source)]["files"]:
            (self.outdir / name).unlink(missing_ok=True)
        self._forget(key(source))

    def _forget(self, source: str) -> None:
        for name in self.entries.pop(source)["files"]:
            if self._owners.get(name) == source:
                del self._owners[name]

    def existing_outputs(self, besides: Iterable[str | os.PathLike]) -> list[Path]:
        """Recorded outputs that exist, of inputs not in ``besides``."""
        skip = {key(b) for b in besides}
        return [path for source, paths in self._existing().items() if source not in skip for path in paths]

    def prune(self) -> None:
        """Drop the records none of whose outputs exist any more."""
        for source in [s for s, paths in self._existing().items() if not paths]:
            self._forget(source)

    def _existing(self) -> dict[str, list[Path]]:
        """Per recorded input, its outputs that exist."""
        return {source: [self.outdir / n for n in entry["files"] if (self.outdir / n).exists()]
                for source, entry in self.entries.items()}


def key(source: str | os.PathLike) -> str:
    """How the records name an input: its real path."""
    return os.path.realpath(source)


def _is_record(entry: Any) -> bool:
    return (isinstance(entry, dict) and entry.get("state") in (PLANNED, DONE)
            and isinstance(entry.get("files"), dict) and "input" in entry)

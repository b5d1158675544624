"""Which outputs in a batch folder a batch wrote, and from which input file.

The summary keeps one record per input (key: the input's path): the input's size and
modification time, and its output files. A record is "planned" from the moment the batch takes
the job on, before it reaches the cluster: the batch may (re)write those outputs, and one that
appears there later is the batch's own (this is what makes a killed batch resumable). Once the
job succeeds the record is "done", with each output's size and modification time.

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
        """The records of an earlier batch's summary (none for a summary without them)."""
        entries = (summary or {}).get("outputs", {})
        if not (isinstance(entries, dict) and all(_is_record(e) for e in entries.values())):
            raise InputError(f"the batch summary in {outdir} has unreadable output records; "
                             "remove it and start afresh with --overwrite")
        return cls(outdir, entries)

    def _name(self, path: Path) -> str:
        """How the records name an output: relative to the folder when inside it."""
        path = Path(path)
        return path.name if path.parent == self.outdir else str(path)

    def decide(self, job: Job) -> tuple[bool, list[str]]:
        """Whether ``job`` is done, and, if not, why each of its existing outputs may not be
        replaced without --overwrite (empty: the job may run)."""
        source = str(job.source)
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
        source = str(job.source)
        names = [self._name(p) for p in job.outputs]
        for owner in {self._owners.get(n) for n in names} - {None, source}:
            self._forget(owner)
        self.entries[source] = {"input": stamp(job.source), "state": PLANNED,
                                "files": {n: stamp(p) for n, p in zip(names, job.outputs)}}
        self._owners.update(dict.fromkeys(names, source))

    def done(self, source: str) -> None:
        """Record that the job of ``source`` wrote its outputs."""
        entry = self.entries[source]
        entry["state"] = DONE
        entry["files"] = {name: stamp(self.outdir / name) for name in entry["files"]}

    def _forget(self, source: str) -> None:
        for name in self.entries.pop(source)["files"]:
            if self._owners.get(name) == source:
                del self._owners[name]

    def existing_outputs(self, besides: set[str]) -> list[Path]:
        """Recorded outputs that exist, of inputs not in ``besides``."""
        return [self.outdir / name for source, entry in self.entries.items() if source not in besides
                for name in entry["files"] if (self.outdir / name).exists()]

    def prune(self) -> None:
        """Drop the records none of whose outputs exist any more."""
        for source in [s for s, e in self.entries.items() if not any((self.outdir / n).exists() for n in e["files"])]:
            self._forget(source)


def _is_record(entry: Any) -> bool:
    return (isinstance(entry, dict) and entry.get("state") in (PLANNED, DONE)
            and isinstance(entry.get("files"), dict) and "input" in entry)

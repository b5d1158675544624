"""Progress and status for long work: ImageJ's status bar and progress bar, or the console."""
from __future__ import annotations

import sys


def _ij():
    """ij.IJ when a JVM with ImageJ runs in this process, else None."""
    import jpype

    if not jpype.isJVMStarted():
        return None
    return jpype.JClass("ij.IJ")


def status(message: str) -> None:
    """Show `message` in ImageJ's status bar (stderr when no ImageJ runs)."""
    ij = _ij()
    if ij is None:
        print(message, file=sys.stderr, flush=True)
    else:
        ij.showStatus(message)


def progress(done: int, total: int) -> None:
    """Show done/total in ImageJ's progress bar; done >= total hides it. No-op without ImageJ."""
    ij = _ij()
    if ij is not None and total > 0:
        ij.showProgress(min(done, total), total)


class Progress:
    """Step counter that updates status and progress bar: `with Progress(n, "Segmenting") as p: p.step()`."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done = total, label, 0

    def __enter__(self) -> "Progress":
        status(f"{self.label}...")
        progress(0, self.total)
        return self

    def step(self, count: int = 1) -> None:
        self.done += count
        progress(self.done, self.total)
        if _ij() is not None:
            status(f"{self.label}: {self.done}/{self.total}")

    def __exit__(self, *exc) -> None:
        progress(self.total, self.total)
        status("" if exc[0] is None else f"{self.label}: stopped")

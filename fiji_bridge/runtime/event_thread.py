"""Run changes to ImageJ's Swing windows (the ROI Manager's list) on the Swing event thread."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import jpype

T = TypeVar("T")


@jpype.JImplements("java.lang.Runnable", deferred=True)
class _Change:
    """A Python callable as a java.lang.Runnable that keeps its result or exception."""

    def __init__(self, change: Callable[[], Any]):
        self.change, self.result, self.error = change, None, None

    @jpype.JOverride
    def run(self) -> None:
        try:
            self.result = self.change()
        except BaseException as error:  # handed back to the waiting thread, not to Swing
            self.error = error


def on_event_thread(change: Callable[[], T]) -> T:
    """Run ``change`` on the Swing event-dispatch thread, wait for it and return its result
    (directly when already on that thread, or when Java is headless).

    ImageJ 1.x changes the ROI Manager's list from whatever thread calls it; a repaint running
    meanwhile on the event thread reads a list that has just shrunk and throws an
    ArrayIndexOutOfBoundsException on AWT-EventQueue. Exceptions of ``change`` reach the caller.
    """
    queue = jpype.JClass("java.awt.EventQueue")
    if jpype.JClass("java.awt.GraphicsEnvironment").isHeadless() or queue.isDispatchThread():
        return change()
    task = _Change(change)
    queue.invokeAndWait(task)
    if task.error is not None:
        raise task.error
    return task.result

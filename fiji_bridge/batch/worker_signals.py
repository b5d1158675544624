"""Local dask workers leave Ctrl-C to the command that started them."""
from __future__ import annotations

import signal
import threading
from typing import Any

from distributed import WorkerPlugin


class IgnoreCtrlC(WorkerPlugin):
    """Ctrl-C in a terminal reaches every process of the command, its local worker processes
    too, and each printed a traceback. With this plugin they ignore it; the command stops them."""

    name = "fiji-bridge-ignore-ctrl-c"

    def setup(self, worker: Any) -> None:
        if threading.current_thread() is threading.main_thread():  # only there can handlers change
            signal.signal(signal.SIGINT, signal.SIG_IGN)

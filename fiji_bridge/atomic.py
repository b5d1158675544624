"""Atomic file writes: a file either appears whole or not at all, and is never overwritten by accident."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fiji_bridge.errors import InputError

TEMP_PREFIX = ".fiji_bridge-tmp-"
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


@contextmanager
def atomic_path(dest: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success it replaces ``dest`` in one step.

    Raises InputError when ``dest`` exists and ``overwrite`` is False. On failure the
    temporary file is removed and ``dest`` is left as it was.
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise InputError(f"{dest} already exists; choose another output or allow overwriting")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; outputs get the mode any new file would
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(dest: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_path(dest, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(dest: str | os.PathLike, text: str, *, overwrite: bool = False, newline: str | None = None) -> None:
    """Write ``text`` to ``dest`` atomically (``newline="\\r\\n"`` for CRLF files)."""
    with atomic_path(dest, overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Delete temporary files an interrupted run left in ``folder``; return how many."""
    removed = 0
    for path in Path(folder).glob(TEMP_PREFIX + "*"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed

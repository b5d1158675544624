"""All-or-nothing writing of a set of files: check every target first, then write atomically.

A :class:`WriteBatch` collects (path, writer) pairs and files that the new set replaces without
writing them again (stale files of an earlier export). :meth:`WriteBatch.commit` refuses existing
files (unless ``overwrite``) and duplicate targets before touching the disk, writes every file
to a temporary name next to its target, and only when all of them succeeded moves them into
place with ``os.replace`` and removes the stale files. After a failure no target file is
created, changed or removed.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from fiji_bridge.atomic import TEMP_PREFIX
from fiji_bridge.errors import InputError

Writer = Callable[[Path], None]
OVERWRITE_HINT = ("tick Overwrite in the Fiji dialog (macro option: overwrite), "
                  "--overwrite on the command line, overwrite=True in Python")


class WriteBatch:
    """Files to be written together; nothing is written before :meth:`commit`."""

    def __init__(self, *, overwrite: bool = False) -> None:
        self.overwrite = overwrite
        self._writers: dict[Path, Writer] = {}
        self._stale: list[Path] = []

    def add(self, path: str | os.PathLike, writer: Writer) -> Path:
        """Queue ``writer(tmp_path)``, which must write the whole file to ``tmp_path``."""
        target = Path(path).absolute()
        if target in self._writers:
            raise InputError(f"two outputs would be written to the same file {target}")
        self._writers[target] = writer
        return target

    def add_text(self, path: str | os.PathLike, text: str, *, newline: str = "\n") -> Path:
        """Queue a UTF-8 text file; ``newline`` replaces every '\\n' (use '\\r\\n' for CRLF)."""
        data = text.replace("\n", newline).encode("utf-8")
        return self.add(path, lambda tmp: tmp.write_bytes(data))

    def remove(self, path: str | os.PathLike) -> None:
        """Queue an existing file that this batch replaces without writing it again; it is
        removed (and its folder, when that is left empty) once every file is in place."""
        self._stale.append(Path(path).absolute())

    @property
    def paths(self) -> list[Path]:
        """Targets queued so far, in order."""
        return list(self._writers)

    def check(self) -> None:
        """Raise InputError if a target exists (without overwrite) or is a folder."""
        for target in [*self._writers, *self._stale]:
            if target.is_dir():
                raise InputError(f"cannot write {target}: a folder of that name exists")
            if target.exists() and not self.overwrite:
                stale = " (from an earlier export; this one would remove it)" if target in self._stale else ""
                raise InputError(f"{target} exists already{stale}; choose another output folder or "
                                 f"allow overwriting: {OVERWRITE_HINT}")

    def commit(self) -> list[Path]:
        """Check, write everything to temporary files, then move all into place."""
        self.check()
        created_dirs: list[Path] = []
        temps: dict[Path, Path] = {}
        moved: list[Path] = []
        try:
            for target, writer in self._writers.items():
                created_dirs += _make_parents(target.parent)
                tmp = target.parent / f"{TEMP_PREFIX}{target.stem}.{secrets.token_hex(4)}{target.suffix}"
                temps[target] = tmp
                writer(tmp)
            for target, tmp in temps.items():
                os.replace(tmp, target)
                moved.append(target)
            for stale in self._stale:
                stale.unlink(missing_ok=True)
                _remove_if_empty(stale.parent)
        except BaseException as exc:
            for tmp in temps.values():
                tmp.unlink(missing_ok=True)
            for folder in reversed(created_dirs):
                _remove_if_empty(folder)
            if isinstance(exc, OSError):  # a folder that is a file, no permission, a full disk
                done = f"{len(moved)} of {len(temps)} files were already in place" if moved else "nothing was written"
                raise InputError(f"cannot write {exc.filename or target}: {exc.strerror or exc}; {done}") from exc
            raise
        return list(temps)


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return the ones created, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    missing.reverse()
    for item in missing:
        item.mkdir()
    return missing


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass

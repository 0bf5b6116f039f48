"""Outputs that exist only when complete, and the outputs of one command committed together.

Every file vidkeys writes goes first to a hidden ``.NAME.part`` beside its
final name; only when every output of the command has been closed without an
error are they renamed into place, one after the other. On any error or
interruption the ``.part`` files are removed (quietly: on a read-only or full
file system the clean-up itself must not raise a second error)::

    with AtomicOutputs() as outs:
        video_tmp = outs.add(video)
        csv_tmp = outs.add(csv)
        ...  # write and close both
        outs.commit()  # both renamed; without this line, both removed
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from vidkeys.errors import VidkeysError


def partial_path(path: Path | str) -> Path:
    """The hidden temporary name an output is written under until it is complete."""
    path = Path(path)
    return path.with_name(f".{path.name}.part")


def _same_file(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b) or (
        a.exists() and b.exists() and os.path.samefile(a, b)
    )


class AtomicOutputs:
    """A group of output files renamed into place together by :meth:`commit`."""

    def __init__(self) -> None:
        self._items: list[tuple[Path, Path]] = []
        self.committed = False

    def add(self, path: Path | str) -> Path:
        """Reserve ``path``; returns the temporary name to write it under."""
        path = Path(path)
        for final, _ in self._items:
            if _same_file(final, path):
                raise VidkeysError(f"two outputs of one command would be the same file: {path}")
        tmp = partial_path(path)
        self._items.append((path, tmp))
        return tmp

    @property
    def paths(self) -> list[Path]:
        """The final names, in the order added."""
        return [final for final, _ in self._items]

    def commit(self) -> list[Path]:
        """Rename every temporary file into place (all files must be closed)."""
        done: list[Path] = []
        try:
            for final, tmp in self._items:
                os.replace(tmp, final)
                done.append(final)
        except OSError as exc:
            for path in done:  # all or nothing
                with contextlib.suppress(OSError):
                    path.unlink()
            self.abort()
            raise VidkeysError(f"cannot write {final}: {exc.strerror or exc}") from exc
        self.committed = True
        return done

    def abort(self) -> None:
        """Remove the temporary files; never raises."""
        for _, tmp in self._items:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.abort()

"""Outputs that exist only when complete, and the outputs of one command committed together.

Every file vidkeys writes goes first to an unnamed temporary file in the
output's folder (Linux ``O_TMPFILE``): no other program or run sees it, two
runs writing the same output never share it, and if the process dies (even
``kill -9``) the kernel frees it and nothing is left. Only when every output
of the command has been closed without an error are they linked into place,
one after the other. Where a file system has no unnamed files, a hidden
``.vk-PID-TOKEN.part`` beside the output stands in (unique per writer, short
enough for any name, removed on error; a batch removes those whose process
is gone). ::

    with AtomicOutputs() as outs:
        video_tmp = outs.add(video)
        csv_tmp = outs.add(csv)
        ...  # write and close both
        outs.commit()  # both in place; without this line, neither

A folder of outputs (:meth:`AtomicOutputs.add_folder`: ``export-faces``'
images and their index) is written whole into a hidden ``.vk-PID-TOKEN.part``
folder beside it and renamed into place by the same commit. A run killed
with ``kill -9`` leaves that hidden folder, never a half-filled output
folder; :func:`stale_parts` finds it once its process is gone.

An output that is not a regular file (``/dev/null``, a named pipe, a
terminal, ``/dev/stdout``) is written to directly as a stream, never renamed
over: the device or pipe stays what it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from vidkeys.errors import VidkeysError

#: What ``open(O_TMPFILE)`` answers where a file system has no unnamed files.
_NO_TMPFILE = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL)

#: Fallback part files: ``.vk-PID-TOKEN.part`` (the writer's pid, a random token).
PART_PATTERN = re.compile(r"^\.vk-(\d+)-[0-9a-f]{8}\.part$")


def is_special_file(path: Path | str) -> bool:
    """True for an output that must be written to, not replaced: an existing
    file that is not a regular one (device, pipe, socket, terminal), or any
    name under ``/dev`` or ``/proc`` (``/dev/stdout`` is a link to one)."""
    text = os.path.abspath(path)
    if text.startswith(("/dev/", "/proc/")):
        return True
    try:
        return not stat.S_ISREG(os.stat(text).st_mode)
    except OSError:
        return False


def stale_parts(folder: Path, recursive: bool = True) -> list[Path]:
    """Part files and folders under ``folder`` (or right in it, not ``recursive``)
    whose writing process is gone."""
    found = []
    for path in (folder.rglob if recursive else folder.glob)(".vk-*.part"):
        match = PART_PATTERN.match(path.name)
        if match and not _alive(int(match.group(1))):
            found.append(path)
    return found


def remove_part(path: Path) -> None:
    """Remove a part file or folder (:func:`stale_parts`); never raises."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: ``linkat``'s flag to link what ``/proc/self/fd/N`` points at, not the link itself.
_AT_SYMLINK_FOLLOW = 0x400
_AT_FDCWD = -100


def _link_fd(fd: int, name: Path) -> None:
    """Give the unnamed file open as ``fd`` the name ``name`` (Python's ``os.link``
    links ``/proc/self/fd/N`` itself, which fails across devices)."""
    libc = ctypes.CDLL(None, use_errno=True)
    source = f"/proc/self/fd/{fd}".encode()
    if libc.linkat(_AT_FDCWD, source, _AT_FDCWD, os.fsencode(name), _AT_SYMLINK_FOLLOW):
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(name))


def _same_file(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b) or (
        a.exists() and b.exists() and os.path.samefile(a, b)
    )


@dataclass
class _Output:
    final: Path
    #: The name writers open: ``/proc/self/fd/N`` of the unnamed file, a
    #: fallback part file, or the final name itself for a stream.
    write_to: Path
    fd: int | None = None
    stream: bool = False
    folder: bool = False


@dataclass
class _Placing:
    """One output being put in place by :meth:`AtomicOutputs.commit`."""

    item: _Output
    #: The earlier output's keeping name while the new one goes in, if there was one.
    kept: Path | None = None
    placed: bool = False

    def undo(self) -> None:
        """Put the earlier output back (or none, where there was none); never raises."""
        final = self.item.final
        with contextlib.suppress(OSError):
            if self.placed and self.item.folder:
                shutil.rmtree(final)
            if self.kept is not None:
                os.replace(self.kept, final)
            elif self.placed:
                final.unlink()

    def drop_kept(self) -> None:
        if self.kept is not None:
            remove_part(self.kept)


class AtomicOutputs:
    """A group of output files put into place together by :meth:`commit`."""

    def __init__(self) -> None:
        self._items: list[_Output] = []
        self.committed = False

    def add(self, path: Path | str) -> Path:
        """Reserve ``path``; returns the name to write it under until :meth:`commit`."""
        path = Path(path)
        for item in self._items:
            if _same_file(item.final, path):
                raise VidkeysError(f"two outputs of one command would be the same file: {path}")
        if is_special_file(path):
            item = _Output(path, path, stream=True)
        else:
            item = self._unnamed(path) or _Output(path, self._part_name(path))
        self._items.append(item)
        return item.write_to

    def add_folder(self, path: Path | str) -> Path:
        """Reserve the folder ``path``: returns a new hidden folder beside it to fill,
        which :meth:`commit` renames to ``path`` (an earlier ``path`` is replaced whole:
        the caller checks it may be)."""
        path = Path(path)
        for item in self._items:
            if _same_file(item.final, path):
                raise VidkeysError(f"two outputs of one command would be the same file: {path}")
        part = self._part_name(path)
        try:
            part.mkdir()
        except OSError as exc:
            raise VidkeysError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self._items.append(_Output(path, part, folder=True))
        return part

    @staticmethod
    def _unnamed(path: Path) -> _Output | None:
        folder = path.parent if str(path.parent) else Path(".")
        try:
            fd = os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o666)
        except (AttributeError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in _NO_TMPFILE:
                raise VidkeysError(f"cannot write {path}: {exc.strerror or exc}") from exc
            return None
        return _Output(path, Path(f"/proc/self/fd/{fd}"), fd=fd)

    @staticmethod
    def _part_name(path: Path) -> Path:
        return path.with_name(f".vk-{os.getpid()}-{secrets.token_hex(4)}.part")

    @property
    def paths(self) -> list[Path]:
        """The final names, in the order added."""
        return [item.final for item in self._items]

    def commit(self) -> list[Path]:
        """Put every temporary file and folder into place (all writers must be closed).

        All or nothing, and a failed commit leaves every earlier file as it was:
        first every output is staged under a hidden name in its own folder (a
        folder gone or full fails here, before anything is replaced); then each
        staged file replaces its output, an existing output kept under a hidden
        name until all are in place, and put back if one fails.
        """
        staged: list[tuple[_Output, Path]] = []
        final = None
        try:
            for item in self._items:
                final = item.final
                if item.fd is not None:
                    name = self._part_name(item.final)
                    _link_fd(item.fd, name)
                    staged.append((item, name))
                elif not item.stream:
                    staged.append((item, item.write_to))
        except OSError as exc:
            for item, name in staged:
                if item.fd is not None:
                    with contextlib.suppress(OSError):
                        name.unlink()
            self.abort()
            raise VidkeysError(f"cannot write {final}: {exc.strerror or exc}") from exc
        placing: list[_Placing] = []
        try:
            for item, name in staged:
                final = item.final
                step = _Placing(item)
                placing.append(step)
                if os.path.lexists(item.final) if item.folder else item.final.exists():
                    step.kept = self._part_name(item.final)
                    if item.folder:  # a folder cannot be linked: moved aside
                        os.rename(item.final, step.kept)
                    else:
                        os.link(item.final, step.kept, follow_symlinks=False)
                os.replace(name, item.final)
                step.placed = True
        except OSError as exc:
            for step in reversed(placing):
                step.undo()
            for _, name in staged:
                remove_part(name)
            self.abort()
            raise VidkeysError(f"cannot write {final}: {exc.strerror or exc}") from exc
        for step in placing:
            step.drop_kept()
        self.committed = True
        self._close()
        return [item.final for item in self._items]

    def abort(self) -> None:
        """Drop the temporary files; never raises."""
        for item in self._items:
            if item.fd is None and not item.stream and os.path.lexists(item.write_to):
                remove_part(item.write_to)
        self._close()

    def _close(self) -> None:
        for item in self._items:
            if item.fd is not None:
                with contextlib.suppress(OSError):
                    os.close(item.fd)
                item.fd = None

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.abort()

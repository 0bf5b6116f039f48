"""The batch manifest, ``OUTDIR/manifest.jsonl``: one line per input and run.

The latest line for an input is its state; a rerun skips inputs whose state is
finished with the same options and whose outputs are all there. Lines are
appended and synced to disk only after an input's outputs are in place.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import BinaryIO

from vidkeys.batch.inputs import Task
from vidkeys.errors import VidkeysError

MANIFEST = "manifest.jsonl"
#: Statuses after which an input counts as finished (a rerun skips it).
FINISHED = ("done", "partial", "skipped")


@dataclass
class Record:
    """One manifest line: what happened to one input.

    ``status`` is ``done``, ``partial`` (cut short or damaged: ``error`` says
    how many frames of how many), ``failed`` (``error`` says why) or
    ``skipped`` (finished by an earlier run with the same options;
    ``previous`` is that run's status).
    """

    input: str
    status: str
    error: str | None = None
    frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    finished: float = 0.0
    options: str = ""
    previous: str | None = None


_RECORD_FIELDS = {f.name for f in fields(Record)}


def read_manifest(outdir: Path) -> dict[str, Record]:
    """The latest record per input (later lines win); torn or garbled lines are ignored."""
    path = outdir / MANIFEST
    records: dict[str, Record] = {}
    if not path.is_file():
        return records
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise VidkeysError(f"cannot read {path}: {exc.strerror}") from exc
    for line in text.splitlines():
        try:
            data = json.loads(line)
            record = Record(**{k: v for k, v in data.items() if k in _RECORD_FIELDS})
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # a line cut short by a kill, or not ours
        if isinstance(record.input, str) and isinstance(record.status, str):
            records[record.input] = record
    return records


def is_done(task: Task, records: dict[str, Record]) -> bool:
    """Done means: the manifest says so, with the same options, and every output is there."""
    record = records.get(str(task.source))
    return (
        record is not None
        and record.status in FINISHED
        and record.options == task.options
        and task.finished()
    )


def open_manifest(path: Path) -> BinaryIO:
    """The manifest, to append to, unbuffered: each record is written by
    :func:`append_record` at once or taken back, never left in a buffer that a
    later close would write. A last line cut short (a crash mid-write) is
    ended first, so the next record starts a line of its own."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            cut = size > 0 and f.seek(size - 1) >= 0 and f.read(1) != b"\n"
    except OSError:  # none yet (or unreadable: opening it to append says why)
        cut = False
    try:
        manifest = path.open("ab", buffering=0)
        if cut:
            manifest.write(b"\n")
        return manifest
    except OSError as exc:
        raise VidkeysError(f"cannot write {path}: {exc.strerror}") from exc


def append_record(manifest: BinaryIO, record: Record) -> None:
    """One line per record, on disk before the next task is counted.

    A full disk (or any write error) here is a known condition: the input's
    outputs are complete, only its line is missing, so a rerun once there is
    room redoes just the inputs without a line. A line written in part (the
    disk filled mid-line) or not synced is cut off again, so the manifest
    holds whole records only.
    """
    line = (json.dumps(asdict(record)) + "\n").encode()
    try:
        end = manifest.seek(0, os.SEEK_END)
        try:
            written = 0
            while written < len(line):
                written += manifest.write(line[written:])
            os.fsync(manifest.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                manifest.truncate(end)
            raise
    except OSError as exc:
        raise VidkeysError(
            f"cannot write the batch manifest {manifest.name}: {exc.strerror or exc}; "
            "free some space and rerun the same command (inputs already recorded as "
            "done are skipped)"
        ) from exc

"""Many inputs, one command: `vidkeys batch`, locally (worker processes) or on Ray.

Each input is one task (a whole video, or an image) running the ordinary
pipeline. The parts, in the order a batch uses them:

- :mod:`vidkeys.batch.inputs`: files, folders and globs -> tasks, each with
  its outputs under OUTDIR (mirroring the inputs' relative paths) and the
  options they depend on;
- :mod:`vidkeys.batch.manifest`: ``OUTDIR/manifest.jsonl``, the record of
  every finished task (done, partial or failed) with its options, so a rerun
  skips what is done with the same options and redoes the rest;
- :mod:`vidkeys.batch.engines`: where tasks run (worker processes, or Ray);
- this module, the driver: one batch per OUTDIR (an ``fcntl`` lock on
  ``OUTDIR/.vidkeys.lock``, released by the kernel when the holder dies),
  stale partial files cleared, tasks handed to an engine, the manifest
  written, Ctrl-C or SIGTERM stopping everything.

Outputs are written under temporary names and renamed when complete (see
:mod:`vidkeys.io.atomic`), so a killed run leaves nothing that looks finished.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vidkeys.batch.engines import ENGINES, run_local, run_ray
from vidkeys.batch.inputs import collect_inputs
from vidkeys.batch.manifest import (
    MANIFEST,
    Record,
    append_record,
    is_done,
    open_manifest,
    read_manifest,
)
from vidkeys.config import PipelineConfig
from vidkeys.errors import VidkeysError, stop_signals_interrupt
from vidkeys.io.atomic import remove_part, stale_parts
from vidkeys.outputs.faces import FaceImages
from vidkeys.outputs.progress import progress

LOCK = ".vidkeys.lock"


@dataclass
class BatchResult:
    """What a batch run did, for the summary line and the exit code."""

    done: int = 0
    failed: int = 0
    skipped: int = 0
    partial: int = 0
    frames: int = 0
    seconds: float = 0.0
    failures: list[Record] = field(default_factory=list)
    partials: list[Record] = field(default_factory=list)

    def line(self, outdir: Path) -> str:
        """One line for the terminal."""
        fps = self.frames / self.seconds if self.seconds else 0.0
        part = f"{self.partial} partial, " if self.partial else ""
        return (
            f"{self.done} done, {part}{self.failed} failed, {self.skipped} skipped "
            f"(already done); {self.frames} frames at {fps:.1f} fps -> {outdir}"
        )


@contextlib.contextmanager
def _outdir_lock(outdir: Path) -> Iterator[None]:
    """One batch per output folder: an flock the kernel drops when its holder dies."""
    path = outdir / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise VidkeysError(f"cannot write to output folder {outdir}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise VidkeysError(
                f"another vidkeys batch (pid {holder}) is writing to {outdir}; "
                "one batch per output folder at a time"
            ) from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_batch(
    inputs: list[str],
    outdir: Path,
    config: PipelineConfig | None = None,
    csv_only: bool = False,
    workers: int | None = None,
    engine: str = "local",
    address: str | None = None,
    force: bool = False,
    quiet: bool = False,
    features: bool = False,
    openface: bool = False,
    faces: FaceImages | None = None,
) -> BatchResult:
    """Process every input into OUTDIR, recording each in the manifest.

    ``faces``: each input's aligned faces (``export-faces``) into
    ``OUTDIR/.../STEM.faces/`` instead of its CSV and video.
    """
    if engine not in ENGINES:
        raise VidkeysError(f"unknown engine {engine!r}: use local or ray")
    config = config or PipelineConfig()
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise VidkeysError(f"workers must be >= 1, got {workers}")
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VidkeysError(f"cannot create output folder {outdir}: {exc.strerror}") from exc
    if not outdir.is_dir():
        raise VidkeysError(f"output {outdir} is not a folder")
    if faces is not None and (csv_only or features or openface or config.aus):
        raise VidkeysError(
            "--faces writes aligned faces instead of the CSV and video: "
            "--csv-only, --features, --openface and --aus do not go with it"
        )
    tasks = collect_inputs(
        inputs,
        outdir,
        csv_only,
        features,
        config,
        openface=openface,
        note=None if quiet else _note,
        faces=faces.check() if faces is not None else None,
    )
    with _outdir_lock(outdir), stop_signals_interrupt():
        for stale in stale_parts(outdir):  # left by a killed run (aligned faces' folders, files
            # on a file system without unnamed files); a user's own ".*.part" and live writers' kept
            remove_part(stale)
        records = {} if force else read_manifest(outdir)
        todo = [t for t in tasks if not is_done(t, records)]
        result = BatchResult(skipped=len(tasks) - len(todo))
        start = time.perf_counter()
        manifest = open_manifest(outdir / MANIFEST)
        records_iter = (
            run_local(todo, config, workers)
            if engine == "local"
            else run_ray(todo, config, workers, address)
        )
        with (
            manifest,
            contextlib.closing(records_iter),
            progress("batch", len(todo), "video", quiet) as bar,
        ):
            for task in tasks:
                if task not in todo:
                    old = records[str(task.source)]
                    previous = old.previous if old.status == "skipped" else old.status
                    record = Record(**{**asdict(old), "status": "skipped", "previous": previous})
                    append_record(manifest, record)
                    if previous == "partial":  # still partial: listed, and in the exit code
                        result.partial += 1
                        result.partials.append(record)
            for record in records_iter:
                append_record(manifest, record)
                if record.status == "failed":
                    result.failed += 1
                    result.failures.append(record)
                else:
                    result.done += record.status == "done"
                    if record.status == "partial":
                        result.partial += 1
                        result.partials.append(record)
                    result.frames += record.frames
                bar.set_postfix(frames=result.frames, failed=result.failed, refresh=False)
                bar.update(1)
    result.seconds = time.perf_counter() - start
    return result

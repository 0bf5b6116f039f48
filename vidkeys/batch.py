"""Many inputs, one command: `vidkeys batch`, locally (process pool) or on Ray.

Each input is one task (a whole video, or an image) running the ordinary
pipeline. Outputs mirror the inputs' relative paths under OUTDIR, and
``OUTDIR/manifest.jsonl`` records every finished task (done or failed), so a
rerun skips what is done and retries what failed. Outputs are written under
temporary names and renamed when complete (see :mod:`vidkeys.jobs`), so a
killed run leaves nothing that looks finished.
"""

from __future__ import annotations

import glob
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vidkeys.errors import VidkeysError
from vidkeys.pipeline import PipelineConfig
from vidkeys.video import IMAGE_EXTS, VIDEO_EXTS

MANIFEST = "manifest.jsonl"
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class Task:
    """One input and where its outputs go."""

    source: Path
    rel: Path
    outdir: Path
    csv_only: bool
    features: bool = False

    @property
    def csv(self) -> Path:
        """The keypoints CSV of this input."""
        return self.outdir / self.rel.parent / f"{self.rel.stem}.keypoints.csv"

    @property
    def media(self) -> Path | None:
        """The annotated video or image, unless ``--csv-only``."""
        if self.csv_only:
            return None
        ext = self.rel.suffix.lower() if self.rel.suffix.lower() in IMAGE_EXTS else ".mp4"
        return self.outdir / self.rel.parent / f"{self.rel.stem}.keypoints{ext}"

    @property
    def outputs(self) -> list[Path]:
        """Every file this task must leave for it to count as done."""
        return [p for p in (self.media, self.csv) if p is not None]


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS | IMAGE_EXTS


def collect_inputs(
    inputs: Iterable[str], outdir: Path, csv_only: bool, features: bool = False
) -> list[Task]:
    """Expand files, folders (recursively) and globs into tasks, each input once.

    A folder's files keep their path below the folder; a glob's matches keep
    their path below the glob's fixed leading part; a plain file keeps its name.
    """
    tasks: dict[Path, Task] = {}
    outdir = outdir.resolve()
    for item in inputs:
        path = Path(item)
        if glob.has_magic(item):
            fixed = _fixed_prefix(item)
            base = Path(*fixed) if fixed else Path(".")
            found = [Path(m) for m in sorted(glob.glob(item, recursive=True))]
            pairs = [(m, m.relative_to(base)) for m in found if m.is_file() and _is_media(m)]
            if not pairs:
                raise VidkeysError(f"no video or image matches {item}")
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _is_media(p))
            pairs = [(p, p.relative_to(path)) for p in files]
            if not pairs:
                raise VidkeysError(f"{path}: folder holds no videos or images")
        elif path.is_file():
            pairs = [(path, Path(path.name))]
        else:
            raise VidkeysError(f"input not found: {item}")
        for src, rel in pairs:
            src = src.resolve()
            if outdir in src.parents:
                continue  # never take our own outputs as inputs
            tasks.setdefault(src, Task(src, rel, outdir, csv_only, features))
    outputs = [t.csv for t in tasks.values()]
    if len(set(outputs)) != len(outputs):
        raise VidkeysError(
            "two inputs would write the same output name; give them separate folders"
        )
    return list(tasks.values())


def _fixed_prefix(pattern: str) -> list[str]:
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return fixed


@dataclass
class Record:
    """One manifest line: what happened to one input."""

    input: str
    status: str
    error: str | None = None
    frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    finished: float = 0.0


def read_manifest(outdir: Path) -> dict[str, Record]:
    """The latest record per input (later lines win); a torn last line is ignored."""
    path = outdir / MANIFEST
    records: dict[str, Record] = {}
    if not path.is_file():
        return records
    for line in path.read_text().splitlines():
        try:
            data = json.loads(line)
            records[data["input"]] = Record(**data)
        except (ValueError, TypeError, KeyError):
            continue  # a line cut short by a kill
    return records


def is_done(task: Task, records: dict[str, Record]) -> bool:
    """Done means: the manifest says so and every output file is there."""
    record = records.get(str(task.source))
    return (
        record is not None
        and record.status in ("done", "skipped")
        and all(p.is_file() for p in task.outputs)
    )


def run_task(task: Task, config: PipelineConfig) -> Record:
    """Process one input; any error becomes a failed record, never an exception."""
    from vidkeys.jobs import annotate_file, export_file

    start = time.perf_counter()
    try:
        task.csv.parent.mkdir(parents=True, exist_ok=True)
        if task.media is None:
            summary = export_file(
                task.source, task.csv, config=config, quiet=True, features=task.features
            )
        else:
            summary = annotate_file(
                task.source, task.media, task.csv, config, quiet=True, features=task.features
            )
    except VidkeysError as exc:
        return _failed(task, str(exc), start)
    except Exception as exc:  # a bug or a library error: still only this input fails
        return _failed(task, f"{type(exc).__name__}: {exc}".splitlines()[0], start)
    return Record(
        str(task.source),
        "done",
        frames=summary.frames,
        faces=summary.faces,
        seconds=round(time.perf_counter() - start, 3),
        outputs=[str(p) for p in task.outputs],
        finished=time.time(),
    )


def _failed(task: Task, error: str, start: float) -> Record:
    return Record(
        str(task.source),
        "failed",
        error=error,
        seconds=round(time.perf_counter() - start, 3),
        finished=time.time(),
    )


# --- local engine -----------------------------------------------------------

_WORKER_CONFIG: PipelineConfig | None = None


def _init_worker(config: PipelineConfig, threads: int) -> None:
    """Give each worker its share of the cores, so N workers do not oversubscribe."""
    import cv2

    global _WORKER_CONFIG
    cv2.setNumThreads(threads)  # the CNN's threads: PipelineConfig.cnn_threads
    _WORKER_CONFIG = config


def _worker_run(task: Task) -> Record:
    assert _WORKER_CONFIG is not None
    return run_task(task, _WORKER_CONFIG)


def _local(tasks: list[Task], config: PipelineConfig, workers: int) -> Iterator[Record]:
    threads = max(1, (os.cpu_count() or 1) // workers)
    # spawn, not fork: a forked copy of a process that already runs torch's
    # thread pools can hang.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(config, threads)
    ) as pool:
        pending: set[Future[Record]] = {pool.submit(_worker_run, t) for t in tasks}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise


# --- Ray engine -------------------------------------------------------------

RAY_MISSING = "the Ray engine needs Ray: pip install 'vidkeys[ray]' (or: pip install 'ray>=2.9')"


def _ray(
    tasks: list[Task], config: PipelineConfig, workers: int, address: str | None
) -> Iterator[Record]:
    try:
        import ray
    except ImportError:
        raise VidkeysError(RAY_MISSING) from None
    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
    gpus = 1 if config.device == "cuda" else 0

    @ray.remote(num_cpus=1, num_gpus=gpus)
    def remote_run(task: Task, cfg: PipelineConfig) -> Record:
        _init_worker(cfg, 1)
        return run_task(task, cfg)

    try:
        config_ref = ray.put(config)
        pending = [remote_run.remote(t, config_ref) for t in tasks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started:
            ray.shutdown()


# --- driver -----------------------------------------------------------------


def _append(manifest: Any, record: Record) -> None:
    """One line per record, on disk before the next task is counted."""
    manifest.write(json.dumps(asdict(record)) + "\n")
    manifest.flush()
    os.fsync(manifest.fileno())


@dataclass
class BatchResult:
    """What a batch run did, for the summary line and the exit code."""

    done: int = 0
    failed: int = 0
    skipped: int = 0
    frames: int = 0
    seconds: float = 0.0
    failures: list[Record] = field(default_factory=list)

    def line(self, outdir: Path) -> str:
        """One line for the terminal."""
        fps = self.frames / self.seconds if self.seconds else 0.0
        return (
            f"{self.done} done, {self.failed} failed, {self.skipped} skipped (already done); "
            f"{self.frames} frames at {fps:.1f} fps -> {outdir}"
        )


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
) -> BatchResult:
    """Process every input into OUTDIR, recording each in the manifest."""
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
    tasks = collect_inputs(inputs, outdir, csv_only, features)
    for stale in outdir.rglob(".*.part"):  # left by a run that was killed
        stale.unlink(missing_ok=True)
    records = {} if force else read_manifest(outdir)
    todo = [t for t in tasks if not is_done(t, records)]
    result = BatchResult(skipped=len(tasks) - len(todo))
    start = time.perf_counter()
    with (
        (outdir / MANIFEST).open("a") as manifest,
        tqdm(
            total=len(todo), unit="video", disable=quiet, file=sys.stderr, dynamic_ncols=True
        ) as bar,
    ):
        records_iter = (
            _local(todo, config, workers)
            if engine == "local"
            else _ray(todo, config, workers, address)
        )
        for task in tasks:
            if task not in todo:
                old = records[str(task.source)]
                _append(manifest, Record(**{**asdict(old), "status": "skipped"}))
        for record in records_iter:
            _append(manifest, record)
            if record.status == "done":
                result.done += 1
                result.frames += record.frames
            else:
                result.failed += 1
                result.failures.append(record)
            bar.update(1)
            bar.set_postfix(frames=result.frames, failed=result.failed)
    result.seconds = time.perf_counter() - start
    return result

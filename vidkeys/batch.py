"""Many inputs, one command: `vidkeys batch`, locally (worker processes) or on Ray.

Each input is one task (a whole video, or an image) running the ordinary
pipeline. Outputs mirror the inputs' relative paths under OUTDIR, and
``OUTDIR/manifest.jsonl`` records every finished task (done, partial or
failed) with the options it ran with, so a rerun skips what is done with the
same options and redoes the rest. Outputs are written under temporary names
and renamed when complete (see :mod:`vidkeys.atomic`), so a killed run leaves
nothing that looks finished.

Faults: one batch per OUTDIR at a time (an ``fcntl`` lock on
``OUTDIR/.vidkeys.lock``, released by the kernel when the holder dies);
workers die with the driver (``PR_SET_PDEATHSIG`` and a watch on the parent
pid); a worker that dies fails only its input and is replaced; Ctrl-C or
SIGTERM stops every worker at once, removing their partial files.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import glob
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vidkeys.atomic import partial_path
from vidkeys.errors import VidkeysError
from vidkeys.pipeline import PipelineConfig
from vidkeys.video import IMAGE_EXTS, VIDEO_EXTS

MANIFEST = "manifest.jsonl"
LOCK = ".vidkeys.lock"
ENGINES = ("local", "ray")
#: Statuses after which an input counts as finished (a rerun skips it).
FINISHED = ("done", "partial", "skipped")


@dataclass(frozen=True)
class Task:
    """One input, where its outputs go, and the options that shape them."""

    source: Path
    rel: Path
    outdir: Path
    csv_only: bool
    features: bool = False
    #: What the outputs depend on (see :func:`task_options`); recorded in the manifest.
    options: str = ""

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


def task_options(source: Path, config: PipelineConfig | None, features: bool) -> str:
    """The options and input a task's outputs depend on, as a canonical JSON string.

    The pipeline's settings (not where or how fast it runs), ``--features``,
    the weights file's and the input's size and modification time: a rerun
    with any of them changed redoes the input.
    """
    config = config or PipelineConfig()
    settings = asdict(config)
    for key in ("device", "batch_size", "cnn_threads"):
        settings.pop(key, None)
    weights = config.weights
    if weights is not None and Path(weights).is_file():
        st = Path(weights).stat()
        settings["weights"] = [str(weights), st.st_size, st.st_mtime_ns]
    settings["features"] = features
    with contextlib.suppress(OSError):
        st = source.stat()
        settings["input"] = [st.st_size, st.st_mtime_ns]
    return json.dumps(settings, sort_keys=True, default=str)


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS | IMAGE_EXTS


def _is_our_output(path: Path) -> bool:
    """Files a batch writes into OUTDIR: never taken as inputs when OUTDIR is among them."""
    return path.name.startswith(".") or ".keypoints." in path.name


def collect_inputs(
    inputs: Iterable[str],
    outdir: Path,
    csv_only: bool,
    features: bool = False,
    config: PipelineConfig | None = None,
) -> list[Task]:
    """Expand files, folders (recursively) and globs into tasks, each input once.

    A folder's files keep their path below the folder; a glob's matches keep
    their path below the glob's fixed leading part; a plain file keeps its name.
    OUTDIR may lie inside (or be) an input folder: the batch's own outputs
    there are left out, the other files are inputs.
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
            if (src.parent == outdir or outdir in src.parents) and _is_our_output(src):
                continue  # never take our own outputs as inputs
            options = task_options(src, config, features)
            tasks.setdefault(src, Task(src, rel, outdir, csv_only, features, options))
    by_output: dict[Path, Path] = {}
    for task in tasks.values():
        for out in task.outputs:
            if out in tasks:
                raise VidkeysError(f"the output {out} of {task.source} would overwrite an input")
            other = by_output.setdefault(out, task.source)
            if other != task.source:
                raise VidkeysError(
                    f"{other} and {task.source} would both write {out}; "
                    "give them separate folders or batches"
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
    except OSError as exc:
        return _failed(task, f"{exc.strerror or exc}: {exc.filename or task.source}", start)
    except Exception as exc:  # a bug or a library error: still only this input fails
        return _failed(task, f"unexpected {type(exc).__name__}: {exc}".splitlines()[0], start)
    partial = summary.partial
    return Record(
        str(task.source),
        "partial" if partial else "done",
        error=summary.warning().removeprefix("warning: ") if partial else None,
        frames=summary.frames,
        faces=summary.faces,
        seconds=round(time.perf_counter() - start, 3),
        outputs=[str(p) for p in task.outputs],
        finished=time.time(),
        options=task.options,
    )


def _failed(task: Task, error: str, start: float) -> Record:
    return Record(
        str(task.source),
        "failed",
        error=error,
        seconds=round(time.perf_counter() - start, 3),
        finished=time.time(),
        options=task.options,
    )


def _remove_partials(task: Task) -> None:
    """Remove what a worker killed on this task left (its hidden .part files)."""
    for path in task.outputs:
        with contextlib.suppress(OSError):
            partial_path(path).unlink(missing_ok=True)


# --- local engine -----------------------------------------------------------

_WORKER_CONFIG: PipelineConfig | None = None


def _init_worker(config: PipelineConfig, threads: int) -> None:
    """Give each worker its share of the cores, so N workers do not oversubscribe."""
    import cv2

    from vidkeys import video

    global _WORKER_CONFIG
    cv2.setNumThreads(threads)  # the CNN's threads: PipelineConfig.cnn_threads
    video.ENCODER_THREADS = threads
    # tqdm's default lock is a multiprocessing semaphore, which a worker that
    # ends with os._exit would leak (a warning at the driver's exit).
    tqdm.set_lock(threading.RLock())
    _WORKER_CONFIG = config


def _worker_run(task: Task) -> Record:
    assert _WORKER_CONFIG is not None
    return run_task(task, _WORKER_CONFIG)


def _terminate(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the clean-up is not interrupted
    raise SystemExit(128 + signum)  # unwinds the job, which removes its .part files


def _die_with_parent(parent: int) -> None:
    """End this worker when the driver ends, however it ends (even ``kill -9``)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(10)  # the job's clean-up had its chance
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, name="vidkeys-parent-watch", daemon=True).start()


def _worker_main(conn: Any, config: PipelineConfig, threads: int, parent: int) -> None:
    """A worker process: run tasks from the driver until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    signal.signal(signal.SIGTERM, _terminate)
    _die_with_parent(parent)
    _init_worker(config, threads)
    code = 0
    try:
        with contextlib.suppress(EOFError, OSError):  # the driver is gone: end quietly
            while True:
                task = conn.recv()
                if task is None:
                    break
                conn.send(_worker_run(task))
    except SystemExit as exc:  # stopped: the job has removed its files
        code = exc.code if isinstance(exc.code, int) else 1
    # Skip the interpreter's shutdown: its thread pools may abort, and a late
    # SIGTERM there would print a traceback.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class _Worker:
    """One worker process and the task it is on."""

    def __init__(self, context: Any, config: PipelineConfig, threads: int) -> None:
        self.conn, child = context.Pipe()
        self.proc = context.Process(
            target=_worker_main,
            args=(child, config, threads, os.getpid()),
            name="vidkeys-worker",
            daemon=True,
        )
        self.proc.start()
        child.close()
        self.task: Task | None = None

    def give(self, task: Task) -> None:
        self.task = task
        self.conn.send(task)

    def result(self) -> Record | None:
        """The finished task's record, or None when the process died on it."""
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        return None

    def death(self) -> str:
        self.proc.join(timeout=5)
        code = self.proc.exitcode
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            why = f"killed by {name}" + (
                " (out of memory, or killed by hand)" if name == "SIGKILL" else ""
            )
        else:
            why = f"exit code {code}"
        return f"the worker process died while on this input ({why})"

    def stop(self, wait_s: float = 10.0) -> None:
        """SIGTERM (the job removes its partial files), then SIGKILL if it lingers.

        An idle worker, told to quit, gets ``wait_s`` to end by itself first.
        """
        if self.task is None:
            self.proc.join(timeout=wait_s)
        if self.proc.is_alive():
            with contextlib.suppress(OSError):
                self.proc.terminate()
            self.proc.join(timeout=wait_s)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(timeout=5)
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.task is not None:
            _remove_partials(self.task)


def _local(tasks: list[Task], config: PipelineConfig, workers: int) -> Iterator[Record]:
    threads = max(1, (os.cpu_count() or 1) // workers)
    # spawn, not fork: a forked copy of a process that already runs the CNN's
    # thread pools can hang.
    context = multiprocessing.get_context("spawn")
    queue = deque(tasks)
    pool: list[_Worker] = []
    try:
        for _ in range(min(workers, len(queue))):
            worker = _Worker(context, config, threads)
            worker.give(queue.popleft())
            pool.append(worker)
        while True:
            busy = [w for w in pool if w.task is not None]
            if not busy:
                return
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy]))
            for i, worker in enumerate(pool):
                if worker.task is None or not (
                    worker.conn in ready or worker.proc.sentinel in ready
                ):
                    continue
                task = worker.task
                record = worker.result()
                if record is None:  # died on it: fail this input, replace the worker
                    record = _failed(task, worker.death(), time.perf_counter())
                    worker.stop(wait_s=1)
                    worker.task = None
                    worker = pool[i] = _Worker(context, config, threads)
                worker.task = None
                if queue:
                    worker.give(queue.popleft())
                yield record
    finally:
        for worker in pool:  # Ctrl-C, SIGTERM, an error: stop everything now
            with contextlib.suppress(OSError, ValueError):
                if worker.task is None and worker.proc.is_alive():
                    worker.conn.send(None)
        for worker in pool:
            worker.stop(wait_s=10 if worker.task is not None else 2)


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


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """``kill`` of the driver stops the batch as Ctrl-C does (workers stopped, parts removed)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


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
    if not outdir.is_dir():
        raise VidkeysError(f"output {outdir} is not a folder")
    tasks = collect_inputs(inputs, outdir, csv_only, features, config)
    with _outdir_lock(outdir), _sigterm_interrupts():
        for stale in outdir.rglob(".*.part"):  # left by a run that was killed
            with contextlib.suppress(OSError):
                stale.unlink()
        records = {} if force else read_manifest(outdir)
        todo = [t for t in tasks if not is_done(t, records)]
        result = BatchResult(skipped=len(tasks) - len(todo))
        start = time.perf_counter()
        try:
            manifest = (outdir / MANIFEST).open("a", encoding="utf-8")
        except OSError as exc:
            raise VidkeysError(f"cannot write {outdir / MANIFEST}: {exc.strerror}") from exc
        records_iter = (
            _local(todo, config, workers)
            if engine == "local"
            else _ray(todo, config, workers, address)
        )
        with (
            manifest,
            contextlib.closing(records_iter),
            tqdm(
                total=len(todo), unit="video", disable=quiet, file=sys.stderr, dynamic_ncols=True
            ) as bar,
        ):
            for task in tasks:
                if task not in todo:
                    old = records[str(task.source)]
                    previous = old.previous if old.status == "skipped" else old.status
                    record = Record(**{**asdict(old), "status": "skipped", "previous": previous})
                    _append(manifest, record)
                    if previous == "partial":  # still partial: listed, and in the exit code
                        result.partial += 1
                        result.partials.append(record)
            for record in records_iter:
                _append(manifest, record)
                if record.status == "failed":
                    result.failed += 1
                    result.failures.append(record)
                else:
                    result.done += record.status == "done"
                    if record.status == "partial":
                        result.partial += 1
                        result.partials.append(record)
                    result.frames += record.frames
                bar.update(1)
                bar.set_postfix(frames=result.frames, failed=result.failed)
    result.seconds = time.perf_counter() - start
    return result

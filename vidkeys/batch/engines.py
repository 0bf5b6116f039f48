"""Where a batch's tasks run: worker processes on this machine, or Ray tasks.

:func:`run_task` is one task, anywhere: the ordinary whole-file job, with any
error turned into a failed record. :func:`run_local` keeps ``workers``
processes busy (each with its share of the cores); a worker dies with the
driver (``PR_SET_PDEATHSIG`` and a watch on the parent pid), a worker that
dies fails only its input and is replaced, and stopping the engine (Ctrl-C,
SIGTERM) stops every worker at once, removing their partial files.
:func:`run_ray` runs one Ray task per input.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vidkeys.batch.inputs import Task
from vidkeys.batch.manifest import Record
from vidkeys.config import PipelineConfig
from vidkeys.errors import STOP_SIGNALS, VidkeysError
from vidkeys.io.atomic import remove_part, stale_parts

ENGINES = ("local", "ray")


def run_task(task: Task, config: PipelineConfig) -> Record:
    """Process one input; any error becomes a failed record, never an exception."""
    from vidkeys.jobs import annotate_file, export_faces_file, export_file

    start = time.perf_counter()
    try:
        task.outputs[0].parent.mkdir(parents=True, exist_ok=True)
        if task.faces is not None:
            summary = export_faces_file(task.source, task.faces_folder, task.faces, config, True)
        elif task.media is None:
            summary = export_file(
                task.source,
                task.csv,
                config=config,
                quiet=True,
                features=task.features,
                openface=task.openface,
            )
        else:
            summary = annotate_file(
                task.source,
                task.media,
                task.csv,
                config,
                quiet=True,
                features=task.features,
                openface=task.openface,
            )
    except VidkeysError as exc:
        return failed_record(task, str(exc), start)
    except OSError as exc:
        return failed_record(task, f"{exc.strerror or exc}: {exc.filename or task.source}", start)
    except Exception as exc:  # a bug or a library error: still only this input fails
        return failed_record(task, f"unexpected {type(exc).__name__}: {exc}".splitlines()[0], start)
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


def failed_record(task: Task, error: str, start: float) -> Record:
    """A failed record for ``task``: ``error`` says why; ``start`` is when it began."""
    return Record(
        str(task.source),
        "failed",
        error=error,
        seconds=round(time.perf_counter() - start, 3),
        finished=time.time(),
        options=task.options,
    )


def remove_partials(task: Task) -> None:
    """Remove what a worker killed on this task left: nothing where its outputs were
    unnamed files (the kernel frees them), else its fallback part files and the
    hidden folder of its aligned faces."""
    for folder in {Path(path).parent for path in task.outputs}:
        for stale in stale_parts(folder) if folder.is_dir() else []:
            remove_part(stale)


# --- local engine -----------------------------------------------------------

_WORKER_CONFIG: PipelineConfig | None = None


def _init_worker(config: PipelineConfig, threads: int) -> None:
    """Give each worker its share of the cores, so N workers do not oversubscribe."""
    import cv2

    from vidkeys.io import writers

    global _WORKER_CONFIG
    cv2.setNumThreads(threads)  # the CNN's threads: PipelineConfig.cnn_threads
    writers.ENCODER_THREADS = threads
    # tqdm's default lock is a multiprocessing semaphore, which a worker that
    # ends with os._exit would leak (a warning at the driver's exit).
    tqdm.set_lock(threading.RLock())
    _WORKER_CONFIG = config


def _worker_run(task: Task) -> Record:
    assert _WORKER_CONFIG is not None
    return run_task(task, _WORKER_CONFIG)


def _terminate(signum: int, frame: object) -> None:
    for sig in STOP_SIGNALS:  # once: the clean-up is not interrupted
        signal.signal(sig, signal.SIG_IGN)
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
    for sig in STOP_SIGNALS:
        signal.signal(sig, _terminate)
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
            remove_partials(self.task)


def run_local(tasks: list[Task], config: PipelineConfig, workers: int) -> Iterator[Record]:
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
                    record = failed_record(task, worker.death(), time.perf_counter())
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


def run_ray(
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

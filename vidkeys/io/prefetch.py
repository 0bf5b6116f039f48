"""Run an iterator in a background thread, a few items ahead of its consumer.

Decoding (PyAV/FFmpeg) releases the GIL, so the next frames are decoded on
one core while the CNN and the detector work on the current one. The queue
is bounded, so memory stays constant however long the video is.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()
#: Name of the worker thread (one per :func:`prefetch` being iterated).
THREAD_NAME = "vidkeys-decode"
#: Seconds a stopped consumer waits for the worker to end.
STOP_WAIT = 2.0


def prefetch(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """Yield ``items`` in order, produced by a worker thread up to ``depth`` ahead.

    An exception raised by the producer is re-raised here, in the consumer.
    Closing the generator early stops the producer.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((_DONE, None))
        except BaseException as exc:  # handed to the consumer
            q.put((_DONE, exc))

    worker = threading.Thread(target=produce, name=THREAD_NAME, daemon=True)
    worker.start()
    try:
        while True:
            item, exc = q.get()
            if item is _DONE:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        # Unblock a producer waiting on a full queue. One blocked in a read (a
        # stalled URL) is not waited for past STOP_WAIT: it is a daemon thread,
        # and its source stops it after the read.
        deadline = time.monotonic() + STOP_WAIT
        while worker.is_alive() and time.monotonic() < deadline:
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.1)

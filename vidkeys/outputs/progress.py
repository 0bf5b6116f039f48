"""Progress on stderr: a bar on a terminal, plain periodic lines in a log.

A bar redraws itself with ``\\r``, which fills a redirected log with one
endless line; off a terminal a line every :data:`PROGRESS_EVERY` seconds says
the same. ``vidkeys`` single-file commands count frames, ``batch`` videos.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

#: Seconds between two progress lines when stderr is not a terminal.
PROGRESS_EVERY = 10.0


class PlainProgress:
    """Progress for a log file: one plain line every PROGRESS_EVERY seconds, no ``\\r``."""

    def __init__(self, name: str, total: int | None, unit: str) -> None:
        self.name, self.total, self.unit, self.n = name, total, unit, 0
        self._start = self._last = time.monotonic()
        self._postfix = ""

    def set_postfix(self, refresh: bool = True, **values: object) -> None:
        """Figures to add to the next line (as tqdm shows them after its bar; ``refresh``
        is tqdm's: here lines are written by :meth:`update`)."""
        self._postfix = "".join(f", {k}={v}" for k, v in values.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY:
            self._last = now
            rate = self.n / max(now - self._start, 1e-9)
            of = f" of {self.total}" if self.total else ""
            speed = f"{rate:.1f} fps" if self.unit == "frame" else f"{rate:.2f} {self.unit}s/s"
            line = f"{self.name}: {self.n}{of} {self.unit}s, {speed}{self._postfix}"
            print(line, file=sys.stderr, flush=True)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress(name: str, total: int | None, unit: str, quiet: bool) -> tqdm | PlainProgress:
    """A progress bar on a terminal; plain periodic lines when stderr is a file or pipe."""
    if not quiet and not sys.stderr.isatty():
        return PlainProgress(name, total, unit)
    return tqdm(
        total=total,
        unit=unit,
        desc=name,
        disable=quiet,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )


def iterate(
    items: Iterable[T], name: str, total: int | None = None, unit: str = "item", quiet: bool = False
) -> Iterator[T]:
    """``items`` with :func:`progress` counting them (a bar on a terminal, lines in a log)."""
    with progress(name, total, unit, quiet) as bar:
        for item in items:
            yield item
            bar.update(1)

"""The one exception type the CLI turns into a single clear error line, the exit codes,
and the signals that stop a run as Ctrl-C does."""

import contextlib
import signal
import sys
from collections.abc import Iterator

#: Exit codes of every command (README, "Faults"): 0 done; 1 an error (one
#: ``error:`` line); 2 a mistyped command line; 3 a partial result (a
#: ``warning:`` line says how many frames of how many); 130 interrupted
#: (Ctrl-C, ``kill`` (SIGTERM), or the terminal closed (SIGHUP)); 141 the
#: reader of ``-o -`` went away.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


class VidkeysError(Exception):
    """A problem with the user's input (file, option, data), not a bug.

    The message names the file (and row) at fault; the CLI prints it as one
    line and exits non-zero instead of showing a traceback.
    """


def ffmpeg_errors() -> tuple[type[BaseException], ...]:
    """PyAV's error class once PyAV is loaded, else nothing.

    PyAV is imported only when a video is read or written (a photo's run
    starts 80 ms sooner without it), and no PyAV error can arise before.
    """
    av = sys.modules.get("av")
    return (av.FFmpegError,) if av is not None else ()


#: Signals that stop a run as Ctrl-C does: ``kill`` and a closed terminal.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """Within the block, :data:`STOP_SIGNALS` raise ``KeyboardInterrupt``, so a run
    killed or left by its terminal cleans up (no output left) as after Ctrl-C.
    Outside the main thread signals are left alone (Python allows no handler there)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        old = {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)

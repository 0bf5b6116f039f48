"""The one exception type the CLI turns into a single clear error line, and the exit codes."""

import sys

#: Exit codes of every command (README, "Faults"): 0 done; 1 an error (one
#: ``error:`` line); 2 a mistyped command line; 3 a partial result (a
#: ``warning:`` line says how many frames of how many); 130 interrupted
#: (Ctrl-C, or ``kill``: SIGTERM); 141 the reader of ``-o -`` went away.
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

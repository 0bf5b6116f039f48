"""The one exception type the CLI turns into a single clear error line."""


class VidkeysError(Exception):
    """A problem with the user's input (file, option, data), not a bug.

    The message names the file (and row) at fault; the CLI prints it as one
    line and exits non-zero instead of showing a traceback.
    """

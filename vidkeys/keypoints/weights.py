"""Where the weights live and how their files are named: the shipped ``.pt``, its ONNX
graph beside it, and the checksum that ties the two.

Its own module so the network (PyTorch, training) and the predictor (serving)
both read it without importing each other.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import stat
from pathlib import Path

from vidkeys.errors import VidkeysError

#: Points per face (the iBUG 68-point layout).
N_POINTS = 68


def _shipped_weights() -> Path:
    """The weights inside the installed package (``vidkeys.saved_models``, which is the
    repository's ``saved_models/`` folder), wherever and however vidkeys is installed."""
    spec = importlib.util.find_spec("vidkeys.saved_models")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "vidkeys68.pt"
    # A source checkout on sys.path without an install.
    return Path(__file__).resolve().parents[2] / "saved_models" / "vidkeys68.pt"


#: The shipped weights; their ONNX graph lies beside them.
DEFAULT_WEIGHTS = _shipped_weights()

#: How to remake a ``.pt``'s graph (error lines name it).
REEXPORT_HINT = (
    "python -m vidkeys.keypoints.network {pt}  (needs torch: pip install 'vidkeys[train]')"
)


def default_weights() -> Path:
    """``$VIDKEYS_MODEL`` when set, else the shipped weights."""
    return Path(os.environ.get("VIDKEYS_MODEL") or DEFAULT_WEIGHTS)


def onnx_path(weights: Path | str) -> Path:
    """The ONNX graph that belongs to a weights file: the same name, suffix ``.onnx``."""
    weights = Path(weights)
    return weights if weights.suffix == ".onnx" else weights.with_suffix(".onnx")


def check_model_file(path: Path, what: str) -> None:
    """Refuse, in words, a model file that is not a readable, non-empty file: says
    whether it is missing, a folder, a pipe or device (``/dev/null``), or empty."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise VidkeysError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise VidkeysError(f"cannot read {what} {path}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise VidkeysError(f"{what} {path} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise VidkeysError(f"{what} {path} is not a regular file (a pipe or device)")
    if st.st_size == 0:
        raise VidkeysError(f"cannot read {what} {path}: the file is empty")


def file_sha256(path: Path | str) -> str:
    """sha256 of a file's bytes (how a graph names the ``.pt`` it was made from)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()

"""vidkeys: 68 facial keypoints on every face in every frame of a video.

The pipeline (numpy, OpenCV, PyAV, ONNX Runtime) is imported on first use of
:func:`process`, :class:`VideoRun`, :class:`Faces`, :class:`FrameResult` or
:func:`align`, so ``vidkeys --help`` and ``vidkeys --version`` start at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vidkeys.config import PipelineConfig
from vidkeys.errors import VidkeysError

if TYPE_CHECKING:
    from vidkeys.outputs.align import align
    from vidkeys.pipeline import VideoRun, process
    from vidkeys.results import Faces, FrameResult

__all__ = [
    "Faces",
    "FrameResult",
    "PipelineConfig",
    "VideoRun",
    "VidkeysError",
    "align",
    "process",
]
__version__ = "0.1.0"

_LAZY = {
    "process": "vidkeys.pipeline",
    "VideoRun": "vidkeys.pipeline",
    "Faces": "vidkeys.results",
    "FrameResult": "vidkeys.results",
    "align": "vidkeys.outputs.align",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vidkeys' has no attribute {name!r}")

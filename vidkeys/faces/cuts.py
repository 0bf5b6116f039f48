"""Scene cuts: a frame that shares nothing with the one before it.

At a cut every face track must end (the person there now is someone else)
and the new shot must be searched at once. A cut changes the whole picture at
once, so a 32x18 thumbnail of the frame tells it cheaply (0.1-0.3 ms): both
its mean absolute change and the change of its grey-level histogram must be
large. Motion (a head turning, a camera pan, a 5 fps clip) changes the
thumbnail but keeps its histogram, a flash keeps its layout; on the real
clips of ``VIDKEYS_VIDEOS`` motion reaches a mean change of 6 grey levels and
a histogram change of 0.16, cuts 50-145 and 0.21-1.0.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidkeys.config import CutConfig

THUMB = (32, 18)


class SceneCuts:
    """Call with each frame's grey image in turn; True on the first frame of a new shot."""

    def __init__(self, config: CutConfig | None = None) -> None:
        self.config = config or CutConfig()
        self._previous: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, gray: np.ndarray) -> bool:
        h, w = gray.shape[:2]
        step = max(1, min(w // (4 * THUMB[0]), h // (4 * THUMB[1])))
        thumb = cv2.resize(gray[::step, ::step], THUMB, interpolation=cv2.INTER_AREA)
        thumb = thumb.astype(np.float32)
        hist = np.bincount((thumb // 8).astype(np.intp).ravel(), minlength=32) / thumb.size
        previous, self._previous = self._previous, (thumb, hist)
        if previous is None:
            return False
        change = float(np.abs(thumb - previous[0]).mean())
        hist_change = float(np.abs(hist - previous[1]).sum() / 2)
        cfg = self.config
        return change >= cfg.min_change and hist_change >= cfg.min_histogram_change

"""OpenCV's Haar cascades: the detector vidkeys started from (``--detector haar``).

:class:`HaarDetector` is one frontal search of a whole frame: the boxes the
keypoint CNN's training crops are cut from (``vidkeys.training``).
:class:`HaarSearch` is the video search: frontal and profile cascades, and
small faces at full resolution in tiles, cut into slices of about equal cost.
Haar gives boxes only, no points, and no score worth the name.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidkeys.config import DetectorConfig
from vidkeys.errors import VidkeysError
from vidkeys.faces.detect import (
    Detections,
    SearchJob,
    SlicedSearch,
    auto_detect_width,
    interleave,
    tiles,
)

CASCADE_FILE = "haarcascade_frontalface_default.xml"
#: Video runs search frontal faces with the ``alt2`` cascade: on the real
#: clips it finds a frontal face with glasses the default one misses in 6 of
#: 10 frames, and gives a tenth of the false boxes (0.1 against 0.9 a frame).
#: Training and ``vidkeys eval`` keep the default one (the crop rule was
#: measured on its boxes); a new face's crop is settled from its points.
VIDEO_CASCADE_FILE = "haarcascade_frontalface_alt2.xml"
PROFILE_FILE = "haarcascade_profileface.xml"


def _check(config: DetectorConfig) -> None:
    if config.scale_factor <= 1.0:
        raise VidkeysError(f"scale factor must be > 1, got {config.scale_factor}")
    if config.min_neighbors < 0 or config.min_size < 1:
        raise VidkeysError("min neighbours must be >= 0 and min size >= 1")


def _load_cascade(name: str) -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + name
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise VidkeysError(f"cannot load the Haar cascade {path}")
    return cascade


class HaarDetector:
    """Finds face boxes ``(x, y, w, h)`` in grayscale frames, in frame pixels."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        _check(self.config)
        self._cascade = _load_cascade(CASCADE_FILE)

    def __call__(self, gray: np.ndarray) -> np.ndarray:
        """Return an ``(n, 4)`` float array of face boxes, largest first."""
        cfg = self.config
        h, w = gray.shape[:2]
        target = cfg.detect_width or auto_detect_width(w)
        f = 1.0
        if w > target:
            f = target / w
            gray = cv2.resize(gray, (target, round(h * f)), interpolation=cv2.INTER_AREA)
        boxes = self._cascade.detectMultiScale(
            gray,
            scaleFactor=cfg.scale_factor,
            minNeighbors=cfg.min_neighbors,
            minSize=(cfg.min_size, cfg.min_size),
        )
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / f
        return boxes[np.argsort(-boxes[:, 2], kind="stable")]


def haar_plan(config: DetectorConfig, width: int, height: int) -> list[SearchJob]:
    """The slices that together search a ``width x height`` frame with Haar.

    First the frontal search at the detection width (every face from about
    twice ``min_size`` up), then profiles both ways at that width; then, when
    the detection width is below the frame's, the frame at full resolution in
    overlapping tiles for the faces too small for the shrunk search. The
    frontal slice comes every other slice.
    """
    scale = min(1.0, (config.detect_width or auto_detect_width(width)) / width)
    others = [
        SearchJob("profile", scale=scale),
        SearchJob("profile", mirrored=True, scale=scale),
    ]
    if scale < 1.0:
        # The shrunk search finds faces from min_size / scale px, but misses
        # many up to twice that (a sharp 70 px face at half scale is 35 px,
        # barely above Haar's window); tiles search up to that size.
        biggest = int(np.ceil(2 * config.min_size / scale))
        others += [
            SearchJob(region=r, max_size=biggest) for r in tiles(width, height, scale, biggest)
        ]
    return interleave(SearchJob(scale=scale), others)


class HaarSearch(SlicedSearch):
    """Frontal and profile Haar searches over a frame, whole or in slices.

    Not thread-safe: one search at a time per object (OpenCV's cascades keep
    state while they run).
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        super().__init__(config or DetectorConfig(detector="haar"))
        _check(self.config)
        self._frontal = _load_cascade(VIDEO_CASCADE_FILE)
        self._profile = _load_cascade(PROFILE_FILE)

    def _plan(self, width: int, height: int) -> list[SearchJob]:
        return haar_plan(self.config, width, height)

    def _run(self, gray: np.ndarray, job: SearchJob) -> Detections:
        cfg = self.config
        x0, y0 = 0, 0
        image = gray
        if job.region is not None:
            x0, y0, x1, y1 = job.region
            image = gray[y0:y1, x0:x1]
        if job.mirrored:
            image = image[:, ::-1]
        h, w = image.shape[:2]
        if job.scale < 1.0:
            size = (max(1, round(w * job.scale)), max(1, round(h * job.scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        else:
            image = np.ascontiguousarray(image)
        cascade = self._profile if job.kind == "profile" else self._frontal
        max_size = round(job.max_size * job.scale) if job.max_size else 0
        boxes = cascade.detectMultiScale(
            image,
            scaleFactor=cfg.scale_factor,
            minNeighbors=cfg.min_neighbors,
            minSize=(cfg.min_size, cfg.min_size),
            maxSize=(max_size, max_size),
        )
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / job.scale
        if job.mirrored:
            boxes[:, 0] = w / job.scale - boxes[:, 0] - boxes[:, 2]
        boxes[:, 0] += x0
        boxes[:, 1] += y0
        return Detections.from_boxes(boxes)

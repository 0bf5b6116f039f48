"""Face detection with OpenCV's Haar cascades: frontal faces, profiles, small faces.

:class:`HaarDetector` is one frontal search of a whole frame (training data,
stills). :class:`FaceSearch` is what video runs use: frontal and profile
cascades, and small faces searched at full resolution in tiles, cut into
slices of about equal cost so the pipeline can spread one search over frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vidkeys.config import DetectorConfig
from vidkeys.errors import VidkeysError

CASCADE_FILE = "haarcascade_frontalface_default.xml"


def _check(config: DetectorConfig) -> None:
    if config.scale_factor <= 1.0:
        raise VidkeysError(f"scale factor must be > 1, got {config.scale_factor}")
    if config.min_neighbors < 0 or config.min_size < 1:
        raise VidkeysError("min neighbours must be >= 0 and min size >= 1")


def auto_detect_width(frame_width: int) -> int:
    """Half the frame width, within 320-960 px (never wider than the frame)."""
    return min(frame_width, max(320, min(960, frame_width // 2)))


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


#: Video runs search frontal faces with the ``alt2`` cascade: on the real
#: clips it finds a frontal face with glasses the default one misses in 6 of
#: 10 frames, and gives a tenth of the false boxes (0.1 against 0.9 a frame).
#: Training and ``vidkeys eval`` keep the default one (the crop rule was
#: measured on its boxes); a new face's crop is settled from its points.
VIDEO_CASCADE_FILE = "haarcascade_frontalface_alt2.xml"
PROFILE_FILE = "haarcascade_profileface.xml"


def _load_cascade(name: str) -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + name
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise VidkeysError(f"cannot load the Haar cascade {path}")
    return cascade


@dataclass(frozen=True)
class SearchJob:
    """One slice of a frame's face search: a cascade, a scale, a region.

    ``profile`` faces turned to one side (OpenCV's profile cascade knows only
    left-facing profiles, so ``mirrored`` searches the flipped frame for the
    other side). ``region`` is ``(x0, y0, x1, y1)`` in frame pixels, ``None``
    for the whole frame; ``max_size`` caps the face size searched (frame px,
    0: no cap).
    """

    profile: bool = False
    mirrored: bool = False
    scale: float = 1.0
    region: tuple[int, int, int, int] | None = None
    max_size: int = 0


def search_plan(config: DetectorConfig, width: int, height: int) -> list[SearchJob]:
    """The slices that together search a ``width x height`` frame completely.

    First the frontal search at the detection width (every face from about
    twice ``min_size`` up), then profiles both ways at that width; then, when
    the detection width is below the frame's, the frame at full resolution in
    overlapping tiles for the faces too small for the shrunk search. Each
    slice costs about as much as the first, so the pipeline can run one per
    frame in the background and complete the cycle every ``len(plan)`` frames.
    """
    scale = min(1.0, (config.detect_width or auto_detect_width(width)) / width)
    frontal = SearchJob(scale=scale)
    others = []
    if config.profiles:
        others += [SearchJob(profile=True, scale=scale), SearchJob(True, True, scale)]
    if scale < 1.0 and config.small_faces:
        # The shrunk search finds faces from min_size / scale px, but misses
        # many up to twice that (a sharp 70 px face at half scale is 35 px,
        # barely above Haar's window); tiles search up to that size and
        # overlap by it, so no such face is cut in two. Tile count: the
        # full-resolution area over the shrunk search's (one slice's cost).
        biggest = int(np.ceil(2 * config.min_size / scale))
        n = max(1, round(1.0 / scale))
        for i in range(n):
            for j in range(n):
                x0 = max(0, i * width // n - biggest // 2)
                y0 = max(0, j * height // n - biggest // 2)
                x1 = min(width, (i + 1) * width // n + biggest // 2)
                y1 = min(height, (j + 1) * height // n + biggest // 2)
                others.append(SearchJob(region=(x0, y0, x1, y1), max_size=biggest))
    # The frontal slice every other frame: most faces are frontal and large.
    jobs = [frontal]
    for other in others:
        jobs += [other, frontal]
    return jobs[:-1] if others else jobs


class FaceSearch:
    """Frontal and profile Haar searches over a frame, whole or in slices.

    Not thread-safe: one search at a time per object (OpenCV's cascades keep
    state while they run).
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        _check(self.config)
        self._frontal = _load_cascade(VIDEO_CASCADE_FILE)
        self._profile = _load_cascade(PROFILE_FILE) if self.config.profiles else None
        self._plans: dict[tuple[int, int], list[SearchJob]] = {}

    def plan(self, width: int, height: int) -> list[SearchJob]:
        """The search slices for this frame size (see :func:`search_plan`)."""
        key = (width, height)
        if key not in self._plans:
            self._plans[key] = search_plan(self.config, width, height)
        return self._plans[key]

    def __call__(self, gray: np.ndarray, jobs: list[SearchJob] | None = None) -> np.ndarray:
        """Boxes ``(n, 4)`` found by ``jobs`` (default: the whole plan), overlaps merged."""
        h, w = gray.shape[:2]
        jobs = list(dict.fromkeys(self.plan(w, h) if jobs is None else jobs))
        found = [self._run(gray, job) for job in jobs]
        return merge_boxes(np.concatenate(found) if found else np.zeros((0, 4)))

    def _run(self, gray: np.ndarray, job: SearchJob) -> np.ndarray:
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
        cascade = self._profile if job.profile else self._frontal
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
        return boxes


def overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box's area, ``(n, 4)`` x ``(m, 4)`` -> ``(n, m)``.

    Unlike IoU it is 1 for a small box inside a large one: a false "face" on
    an eye inside a real face's box, or two searches' boxes on one face.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 0] + a[:, None, 2], b[:, 0] + b[:, 2]) - np.maximum(
        a[:, None, 0], b[:, 0]
    )
    ih = np.minimum(a[:, None, 1] + a[:, None, 3], b[:, 1] + b[:, 3]) - np.maximum(
        a[:, None, 1], b[:, 1]
    )
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    smaller = np.minimum((a[:, 2] * a[:, 3])[:, None], b[:, 2] * b[:, 3])
    return inter / np.maximum(smaller, 1e-9)


#: Two boxes overlapping this much (of the smaller one) are one face.
SAME_FACE = 0.5


def merge_boxes(boxes: np.ndarray) -> np.ndarray:
    """Keep the largest of each group of boxes on one face (largest first)."""
    boxes = boxes[np.argsort(-boxes[:, 2], kind="stable")]
    keep: list[int] = []
    for i in range(len(boxes)):
        if not keep or overlap(boxes[i], boxes[keep]).max() < SAME_FACE:
            keep.append(i)
    return boxes[keep]

"""Face detection: what every detector returns, and the search a video run uses.

A detector answers with :class:`Detections`: boxes, the five points (eyes,
nose tip, mouth corners) where the detector gives them, and scores.
:func:`vidkeys.faces.search.face_search` builds the search a run uses: YuNet
(the default, a small CNN that OpenCV runs, :mod:`vidkeys.faces.yunet`) or
OpenCV's Haar cascades (:mod:`vidkeys.faces.haar`). Both cut a frame's search
into slices of about equal cost (:class:`SearchJob`), so the pipeline can
spread one search over frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidkeys.config import DetectorConfig
from vidkeys.faces.crop import box_from_landmarks


@dataclass(frozen=True)
class Detections:
    """Faces a detector found in one frame, frame pixels.

    ``boxes`` ``(n, 4)`` ``(x, y, w, h)`` as the detector draws them;
    ``landmarks`` ``(n, 5, 2)``: right eye, left eye (the person's), nose tip,
    right and left mouth corner, NaN where the detector gives none (Haar);
    ``scores`` ``(n,)``. Index with an int array or a boolean mask.
    """

    boxes: np.ndarray
    landmarks: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros(0))

    @classmethod
    def from_boxes(cls, boxes: np.ndarray) -> Detections:
        """Boxes alone (a detector without points), each with score 1."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        return cls(boxes, np.full((len(boxes), 5, 2), np.nan), np.ones(len(boxes)))

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.landmarks for p in parts]),
            np.concatenate([p.scores for p in parts]),
        )

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index: object) -> Detections:
        return Detections(self.boxes[index], self.landmarks[index], self.scores[index])

    def start_boxes(self) -> np.ndarray:
        """The crop box each face's first crop is cut from ``(n, 5)``: ``(x, y, w, h, roll)``.

        The keypoint CNN learnt from crops around a Haar-like box of the 68
        points (:func:`vidkeys.faces.crop.box_from_points`), upright; a face
        with five points gets that box, turned with the face, from them
        (:func:`vidkeys.faces.crop.box_from_landmarks`); one without keeps the
        detector's box, upright (Haar's is that box already).
        """
        out = np.concatenate([self.boxes, np.zeros((len(self), 1))], axis=1)
        for i, marks in enumerate(self.landmarks):
            if np.isfinite(marks).all():
                box = box_from_landmarks(marks)
                if np.isfinite(box).all() and box[2] > 1:  # five points all in one place
                    out[i] = box
        return out


@dataclass(frozen=True)
class SearchJob:
    """One slice of a frame's face search: a scale and a region, for one model.

    ``kind`` names what runs: ``"frontal"``, ``"profile"`` (``mirrored``: the
    flipped frame, for faces turned the other way) for Haar; ``"yunet"``.
    ``region`` is ``(x0, y0, x1, y1)`` in frame pixels, ``None`` for the whole
    frame; ``max_size`` caps the face size searched (frame px, 0: no cap).
    """

    kind: str = "frontal"
    mirrored: bool = False
    scale: float = 1.0
    region: tuple[int, int, int, int] | None = None
    max_size: int = 0


class SlicedSearch:
    """What both searches share: a plan per frame size, made once, and a call that
    runs some of its slices (default: all) and merges their faces.

    Subclasses give :meth:`_plan` (the slices of a frame size) and
    :meth:`_run` (one slice); ``by_score``: merge overlaps keeping the best
    score (else the largest box). Not thread-safe: one call at a time.
    """

    by_score = False

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self._plans: dict[tuple[int, int], list[SearchJob]] = {}

    def plan(self, width: int, height: int) -> list[SearchJob]:
        """The slices that together search a ``width x height`` frame (made once)."""
        key = (width, height)
        if key not in self._plans:
            self._plans[key] = self._plan(width, height)
        return self._plans[key]

    def __call__(self, gray: np.ndarray, jobs: list[SearchJob] | None = None) -> Detections:
        """Faces found by ``jobs`` (default: the whole plan), overlaps merged."""
        h, w = gray.shape[:2]
        jobs = list(dict.fromkeys(self.plan(w, h) if jobs is None else jobs))
        return merge(Detections.concat([self._run(gray, job) for job in jobs]), self.by_score)

    def _plan(self, width: int, height: int) -> list[SearchJob]:
        raise NotImplementedError

    def _run(self, gray: np.ndarray, job: SearchJob) -> Detections:
        raise NotImplementedError


def auto_detect_width(frame_width: int) -> int:
    """Half the frame width, within 320-960 px (never wider than the frame)."""
    return min(frame_width, max(320, min(960, frame_width // 2)))


def tiles(width: int, height: int, scale: float, biggest: int) -> list[tuple[int, int, int, int]]:
    """Overlapping full-resolution regions covering a frame searched at ``scale``.

    As many tiles as the full-resolution area over the shrunk search's, so one
    tile costs about one shrunk search; they overlap by ``biggest`` px (the
    largest face they look for), so no such face is cut in two.
    """
    n = max(1, round(1.0 / scale))
    out = []
    for i in range(n):
        for j in range(n):
            x0 = max(0, i * width // n - biggest // 2)
            y0 = max(0, j * height // n - biggest // 2)
            x1 = min(width, (i + 1) * width // n + biggest // 2)
            y1 = min(height, (j + 1) * height // n + biggest // 2)
            out.append((x0, y0, x1, y1))
    return out


def interleave(first: SearchJob, others: list[SearchJob]) -> list[SearchJob]:
    """``first`` every other slice: most faces are found by the whole-frame search."""
    jobs = [first]
    for other in others:
        jobs += [other, first]
    return jobs[:-1] if others else jobs


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


def merge(found: Detections, by_score: bool = False) -> Detections:
    """Keep one detection of each group on one face: the largest, or the best scored.

    Sorted by what was kept on: width (Haar's scores are all 1) or score.
    """
    key = -found.scores if by_score else -found.boxes[:, 2]
    found = found[np.argsort(key, kind="stable")]
    keep: list[int] = []
    for i in range(len(found)):
        if not keep or overlap(found.boxes[i], found.boxes[keep]).max() < SAME_FACE:
            keep.append(i)
    return found[np.array(keep, np.intp)]

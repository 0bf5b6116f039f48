"""The pipeline: frames -> faces -> crops -> keypoints -> tracks -> pose, frame by frame.

:func:`process` is the Python API the CLI wraps::

    import vidkeys
    for result in vidkeys.process("interview.mp4"):
        for face_id, pts in zip(result.faces.face_id, result.faces.points):
            ...  # pts: (68, 2) pixel coordinates

Haar detection is the expensive stage, so it runs every ``detect_every``
frames (and on any frame after a face was lost); in between, each face is
cropped from where its points were in the previous frame. While faces are
being followed, a search runs in a background thread on the other core and
its boxes join the tracker a fixed :data:`DETECT_LAG` frames later: fixed,
not "when ready", so a run's output never depends on the machine's timing.
With nothing to follow, the search runs at once on the current frame.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidkeys.crop import box_from_points, cut_faces, to_frame
from vidkeys.detect import DetectorConfig, HaarDetector
from vidkeys.errors import VidkeysError
from vidkeys.pose import head_pose
from vidkeys.predictor import KeypointPredictor, shared_predictor
from vidkeys.prefetch import prefetch
from vidkeys.results import Faces, FrameResult
from vidkeys.track import Tracker, TrackerConfig
from vidkeys.video import SourceInfo, open_source

#: Frames between starting a background Haar search and using its boxes
#: (at most ``detect_every - 1``; ``detect_every=1`` searches every frame in
#: step). New faces therefore appear up to this many frames later.
DETECT_LAG = 4


@dataclass
class PipelineConfig:
    """Knobs of a run; the CLI's options map onto these one to one."""

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    detect_every: int = 10
    batch_size: int = 64
    device: str = "auto"
    weights: Path | None = None
    #: CPU threads for the CNN. One: a frame's few crops gain little from a
    #: second thread, and the other core is busy decoding and detecting
    #: (640x360, 2 faces, two runs each: 116-144 fps with 1 thread, 108-119 with 2).
    cnn_threads: int | None = 1


class VideoRun:
    """An iterable over a source's :class:`FrameResult` with the run's figures.

    ``info`` describes the source, ``skipped`` counts frames that failed to
    decode, ``stage_seconds`` the time spent per stage (for benchmarks).
    """

    def __init__(
        self,
        source: Path | str | Iterable[np.ndarray],
        config: PipelineConfig | None = None,
        keep_images: bool = False,
        predictor: KeypointPredictor | None = None,
    ) -> None:
        self.config = config or PipelineConfig()
        if self.config.detect_every < 1:
            raise VidkeysError(f"detect-every must be >= 1, got {self.config.detect_every}")
        if self.config.batch_size < 1:
            raise VidkeysError(f"batch size must be >= 1, got {self.config.batch_size}")
        self.keep_images = keep_images
        self.predictor = predictor or shared_predictor(
            self.config.weights, self.config.device, self.config.cnn_threads
        )
        self.detector = HaarDetector(self.config.detector)
        self.source = open_source(source, gray=not keep_images)
        self.info: SourceInfo = self.source.info
        self.stage_seconds: dict[str, float] = defaultdict(float)
        self.frames = 0
        self.faces = 0

    @property
    def skipped(self) -> int:
        """Frames that could not be decoded and were left out."""
        return self.source.skipped

    def __iter__(self) -> Iterator[FrameResult]:
        tracker = Tracker(self.config.tracker)
        clock = self.stage_seconds
        with self.source, ThreadPoolExecutor(1, thread_name_prefix="vidkeys-detect") as pool:
            self._pool = pool
            self._search: tuple[int, Future[np.ndarray]] | None = None
            frames = prefetch(self.source)
            while True:
                t0 = time.perf_counter()
                frame = next(frames, None)
                t1 = time.perf_counter()
                clock["decode"] += t1 - t0  # time waiting for the decoder thread
                if frame is None:
                    break
                image = frame.image
                gray = frame.gray  # the same grey on every path (video: the luma plane)
                faces = self._faces(frame.index, frame.timestamp, gray, tracker)
                self.frames += 1
                self.faces += len(faces)
                yield FrameResult(
                    frame.index, frame.timestamp, faces, image if self.keep_images else None
                )

    def _faces(self, index: int, timestamp: float, gray: np.ndarray, tracker: Tracker) -> Faces:
        clock = self.stage_seconds
        t0 = time.perf_counter()
        followed = tracker.live()
        # Every N frames, and right after a face was lost. A scene without
        # faces is not searched on every frame: new faces wait at most N-1.
        due = self.frames % self.config.detect_every == 0 or tracker.any_lost()
        detections = self._detect(gray, due, bool(followed))
        if detections is not None:
            new, revived = tracker.new_boxes(detections)
        else:
            new, revived = np.zeros((0, 4)), []
        t1 = time.perf_counter()
        clock["detect"] += t1 - t0
        boxes = [t.box for t in followed] + list(new)
        crops, mats = cut_faces([gray] * len(boxes), boxes, self.predictor.crop_size)
        t2 = time.perf_counter()
        clock["crop"] += t2 - t1
        points, conf = self.predictor(crops, self.config.batch_size)
        points = to_frame(points.astype(np.float64), mats)
        t3 = time.perf_counter()
        clock["cnn"] += t3 - t2
        found = tracker.update(index, timestamp, followed, revived, points, conf)
        if not found:
            clock["track"] += time.perf_counter() - t3
            return Faces.empty()
        smoothed = np.stack([t.smoothed for t in found])
        t4 = time.perf_counter()
        clock["track"] += t4 - t3
        rotation, translation = head_pose(smoothed, gray.shape[1], gray.shape[0])
        clock["pose"] += time.perf_counter() - t4
        return Faces(
            np.array([t.face_id for t in found], np.int64),
            np.stack([box_from_points(p) for p in smoothed]),
            smoothed,
            np.array([t.confidence for t in found]),
            rotation,
            translation,
        )

    def _detect(self, gray: np.ndarray, due: bool, following: bool) -> np.ndarray | None:
        """Boxes to hand the tracker on this frame, if any (see the module notes)."""
        lag = min(DETECT_LAG, self.config.detect_every - 1)
        if not following or lag == 0:
            if self._search is not None:  # one cascade object: never two searches at once
                self._search[1].result()
                self._search = None
            return self.detector(gray) if due else None
        boxes = None
        if self._search is not None and self._search[0] + lag <= self.frames:
            boxes = self._search[1].result()
            self._search = None
        if due and self._search is None:
            self._search = (self.frames, self._pool.submit(self.detector, gray))
        return boxes


def process(
    source: Path | str | Iterable[np.ndarray],
    config: PipelineConfig | None = None,
    keep_images: bool = False,
    **overrides: object,
) -> VideoRun:
    """Run the pipeline over a video, image, image folder or iterable of frames.

    Keyword overrides set :class:`PipelineConfig` fields, e.g.
    ``process("a.mp4", detect_every=1, device="cpu")``.
    """
    config = config or PipelineConfig()
    for key, value in overrides.items():
        if not hasattr(config, key):
            raise VidkeysError(f"unknown pipeline option {key!r}")
        setattr(config, key, value)
    return VideoRun(source, config, keep_images=keep_images)

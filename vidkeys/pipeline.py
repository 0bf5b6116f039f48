"""The pipeline: frames -> faces -> crops -> keypoints -> tracks -> pose, frame by frame.

:func:`process` is the Python API the CLI wraps::

    import vidkeys
    for result in vidkeys.process("interview.mp4"):
        for face_id, pts in zip(result.faces.face_id, result.faces.points):
            ...  # pts: (68, 2) pixel coordinates

A face search (:func:`~vidkeys.faces.search.face_search`: YuNet by default,
Haar's cascades on request) is the expensive stage, so it is cut into slices
of about equal cost: for YuNet the frame shrunk to the detection width, shrunk
further, and twice the detection scale in tiles where that image is large.
While faces are being followed (each cropped from where its points were in the
previous frame), one slice runs per ``detect_every`` frames in a background
thread on the other core and its boxes join the tracker on the next frame: a
fixed lag, not "when ready", so a run's output never depends on the machine's
timing. Half-way between those slices, the surroundings of faces seen small in
this shot are searched finer (where small faces are, more come). With no face
followed, the detection-scale slice and the next slice run at once on every
``idle_every``-th frame (half as often after a second without faces), so a
face is picked up in the frame it appears or the next. The first frame is
searched completely; at a scene cut (:mod:`vidkeys.faces.cuts`) every track
ends, the whole-frame slices run at once, then again on the next frames, one a
frame, followed by every tile.

Everything about tracks (following, starting, ending at cuts, settling a new
face's points with a second prediction) is :meth:`Tracker.step`'s; this
module decides when to search and hands the tracker the CNN. With
``aus=True`` the tracked faces then go through
:class:`~vidkeys.keypoints.actions.ActionUnits` (action units, blink events).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from vidkeys.config import PipelineConfig
from vidkeys.errors import VidkeysError
from vidkeys.faces.crop import box_from_points, cut_faces, to_frame
from vidkeys.faces.cuts import SceneCuts
from vidkeys.faces.detect import Detections, SearchJob
from vidkeys.faces.likeness import looks
from vidkeys.faces.search import face_search
from vidkeys.faces.track import Tracker
from vidkeys.io.prefetch import prefetch
from vidkeys.io.sources import SourceInfo, open_source
from vidkeys.keypoints.actions import ActionUnits
from vidkeys.keypoints.confidence import landmark_confidence
from vidkeys.keypoints.pose import head_pose
from vidkeys.keypoints.predictor import KeypointPredictor, shared_predictor
from vidkeys.keypoints.regions import shared_refiner
from vidkeys.results import Blink, Faces, FrameResult


class VideoRun:
    """An iterable over a source's :class:`FrameResult` with the run's figures.

    ``info`` describes the source, ``skipped`` counts frames that failed to
    decode, ``stage_seconds`` the time spent per stage (for benchmarks).
    A run is one pass over its source and can be iterated once (a second
    ``for`` raises :class:`VidkeysError`); call :func:`process` again for
    another pass.
    """

    def __init__(
        self,
        source: Path | str | Iterable[np.ndarray],
        config: PipelineConfig | None = None,
        keep_images: bool = False,
        predictor: KeypointPredictor | None = None,
        fps: float | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> None:
        self.config = config or PipelineConfig()
        if self.config.detect_every < 1 or self.config.idle_every < 1:
            raise VidkeysError("detect-every and idle-every must be >= 1")
        if self.config.batch_size < 1:
            raise VidkeysError(f"batch size must be >= 1, got {self.config.batch_size}")
        self.keep_images = keep_images
        self.predictor = predictor or shared_predictor(
            self.config.weights,
            self.config.device,
            self.config.cnn_threads,
            self.config.mirror_test,
        )
        self.regions = (
            shared_refiner(self.config.regions_model, self.config.cnn_threads)
            if self.config.regions
            else None
        )
        self.search = face_search(self.config.detector)
        # fps: an image folder's or frame iterable's rate; start/end: a window, in seconds.
        self.source = open_source(source, gray=not keep_images, fps=fps, start=start, end=end)
        self.info: SourceInfo = self.source.info
        self.stage_seconds: dict[str, float] = defaultdict(float)
        self.frames = 0
        self.faces = 0
        self._iterated = False

    @property
    def skipped(self) -> int:
        """Frames that could not be decoded and were left out."""
        return self.source.skipped

    def __iter__(self) -> Iterator[FrameResult]:
        if self._iterated:
            raise VidkeysError(
                f"{self.info.path}: this run has been iterated already; a run can be "
                "iterated once (call vidkeys.process() again for another pass)"
            )
        self._iterated = True
        tracker = Tracker(self.config.tracker)
        actions = ActionUnits() if self.config.aus else None
        clock = self.stage_seconds
        # The decoder thread stops before the source closes, on an error too:
        # closing() ends it here rather than whenever the garbage collector
        # frees the traceback that holds this frame.
        with (
            self.source,
            ThreadPoolExecutor(1, thread_name_prefix="vidkeys-detect") as pool,
            closing(prefetch(self.source)) as frames,
        ):
            self._pool = pool
            self._search: Future[Detections] | None = None
            self._slice = 0  # the next slice of the search plan
            self._idle = 0  # frames in a row with no face followed
            self._eager: list[SearchJob] = []  # slices due on the next frames (a new shot)
            # Where this shot's small faces are, searched fine (None: none seen).
            self._small: list[SearchJob] | None = None
            self._fine = 0  # the next of the finest slices searched with them
            self._cnn_seconds = 0.0  # cropping and CNN time within this frame's tracker step
            self._cuts = SceneCuts(self.config.cuts)
            self._size: tuple[int, ...] | None = None  # the previous frame's shape
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
                blinks: list[Blink] = []
                if actions is not None:
                    t2 = time.perf_counter()
                    faces, blinks = actions(frame.index, frame.timestamp, faces)
                    clock["aus"] += time.perf_counter() - t2
                self.frames += 1
                self.faces += len(faces)
                yield FrameResult(
                    frame.index,
                    frame.timestamp,
                    faces,
                    image if self.keep_images else None,
                    tuple(blinks),
                )

    def _faces(self, index: int, timestamp: float, gray: np.ndarray, tracker: Tracker) -> Faces:
        clock = self.stage_seconds
        t0 = time.perf_counter()
        # A frame of another size (an image folder or frames of mixed sizes) is
        # another picture: a cut, so no track carries over into it.
        cut = self._cuts(gray) or (self._size is not None and gray.shape != self._size)
        self._size = gray.shape
        following = bool(tracker.live()) and not cut
        detections = self._detect(gray, cut or self.frames == 0, following)
        self._note_small(detections, gray.shape)
        t1 = time.perf_counter()
        clock["detect"] += t1 - t0
        whole = cut or self.frames == 0  # searched completely already

        def search_now() -> Detections:
            # A followed face was lost or changed: whoever came instead is looked
            # for on this frame. The background slice (if one runs) finishes
            # first: one search at a time; its boxes still join on the next frame.
            if self._search is not None:
                self._search.result()
            return self.search(gray, _coarse(self.search.plan(gray.shape[1], gray.shape[0])))

        found = tracker.step(
            index,
            timestamp,
            detections,
            lambda boxes: self._keypoints(gray, boxes),
            cut,
            None if whole else search_now,
        )
        t3 = time.perf_counter()
        clock["track"] += t3 - t1 - self._cnn_seconds
        clock["cnn"] += self._cnn_seconds
        self._cnn_seconds = 0.0
        if not found:
            return Faces.empty()
        smoothed = np.stack([t.smoothed for t in found])
        point_conf = np.stack([t.point_confidence for t in found])
        t4 = time.perf_counter()
        clock["track"] += t4 - t3
        rotation, translation = head_pose(smoothed, gray.shape[1], gray.shape[0])
        clock["pose"] += time.perf_counter() - t4
        return Faces(
            np.array([t.face_id for t in found], np.int64),
            np.stack([box_from_points(p) for p in smoothed]),
            smoothed,
            landmark_confidence(smoothed, point_conf),
            rotation,
            translation,
            point_conf,
        )

    def _keypoints(
        self, gray: np.ndarray, boxes: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Points (frame pixels), face and point confidences, and looks of the crops of ``boxes``.

        A face's confidence is the lower of the network's face score and its
        points' mean confidence: the face score alone calls a light switch or
        lettering a face (0.99) where the heatmaps stay flat.
        """
        t0 = time.perf_counter()
        crops, mats = cut_faces([gray] * len(boxes), boxes, self.predictor.crop_size)
        points, score, point_conf = self.predictor(crops, self.config.batch_size)
        conf = np.minimum(score, point_conf.mean(axis=1))
        points = to_frame(points.astype(np.float64), mats)
        if self.regions is not None:
            points = self.regions(gray, points)
        self._cnn_seconds += time.perf_counter() - t0
        return points, conf, point_conf, looks(gray, points)

    def _detect(self, gray: np.ndarray, whole: bool, following: bool) -> Detections:
        """Boxes to hand the tracker on this frame (see the module notes).

        ``whole``: a new shot (first frame, scene cut): search it now.
        """
        pending, self._search = self._search, None
        boxes = pending.result() if pending is not None else Detections.empty()
        plan = self.search.plan(gray.shape[1], gray.shape[0])
        if whole and self._eager:
            # Another cut while the last one's searches still run: a flash or
            # an effect flickering (tears_of_steel's morph: 7 "cuts" in 13
            # frames). The tracks have ended; the searches go on as planned.
            whole = False
        if whole:
            # The first frame (a still's only one) is searched completely; a
            # cut on its whole-frame slices only (a 1080p frame's tiles would
            # add four searches to the cut's frame). Then those slices again
            # and the tiles, one a frame: a new shot's small faces are there
            # from its first frame, not when the cycle reaches their tile.
            self._idle = 0
            self._small = None
            coarse = _coarse(plan)
            self._eager = coarse * EAGER_ROUNDS
            if self.frames:  # the first frame's tiles ran with it
                self._eager += [job for job in dict.fromkeys(plan) if job not in coarse]
            return self.search(gray, None if self.frames == 0 else coarse)
        if self._eager:
            # A new shot: its slices on the next frames, one a frame (a face
            # missed on the cut's frame is often found on the next few: a
            # three-quarter view at a cut, found 2 frames on).
            job = self._eager.pop(0)
            if not following:
                return Detections.concat([boxes, self.search(gray, [job])])
            self._search = self._pool.submit(self.search, gray, [job])
            return boxes
        if not following:
            self._idle += 1
            # After a second with no face, half as often: a long empty shot
            # costs half as much, and a face coming in waits at most 3 frames.
            every = self.config.idle_every * (2 if self._idle > LONG_IDLE else 1)
            if (self._idle - 1) % every:
                return boxes
            jobs = [plan[0], plan[self._slice]]
            self._slice = (self._slice + 1) % len(plan)
            return Detections.concat([boxes, self.search(gray, jobs)])
        self._idle = 0
        every = self.config.detect_every
        if self.frames % every == 0:
            job = plan[self._slice]
            self._slice = (self._slice + 1) % len(plan)
            self._search = self._pool.submit(self.search, gray, [job])
        elif self._small is not None and self.frames % every == every // 2:
            # Where small faces are, more come (a crowd, a class): half-way
            # between the cycle's slices, the small faces' surroundings and the
            # next of the finest slices.
            finest = _finest(plan)
            job = finest[self._fine % len(finest)]
            self._fine += 1
            self._search = self._pool.submit(self.search, gray, [*self._small, job])
        return boxes

    def _note_small(self, found: Detections, shape: tuple[int, ...]) -> None:
        """Add the surroundings of faces too small for the shrunk frame to this
        shot's small-face areas, searched finer than the cycle's slices."""
        plan = self.search.plan(shape[1], shape[0])
        coarse = plan[0].scale
        small = found.boxes[found.boxes[:, 2] * coarse < SMALL_FACE] if len(found) else []
        if not len(small):
            return
        finest = _finest(plan)[0]
        areas = [job.region for job in self._small or []]
        for x, y, w, h in small:
            m = SMALL_REACH * w
            areas.append((int(x - m), int(y - m), int(x + w + m), int(y + h + m)))
        # All areas together cost at most one shrunk-frame search: each enlarged
        # twice more where that fits (a face YuNet sees at 13-20 px is found far
        # more often at twice the size), at the finest scale where only that
        # fits, left to the cycle's slices where neither does; smaller first.
        left = shape[0] * shape[1] * coarse**2
        self._small = []
        merged = _union(areas, shape[1], shape[0])
        for x0, y0, x1, y1 in sorted(merged, key=lambda a: (a[2] - a[0]) * (a[3] - a[1])):
            pixels = (x1 - x0) * (y1 - y0) * finest.scale**2
            for scale in (2, 1):
                if scale**2 * pixels <= left:
                    left -= scale**2 * pixels
                    region = (x0, y0, x1, y1)
                    self._small.append(replace(finest, region=region, scale=scale * finest.scale))
                    break


#: Frames with no face followed after which faceless frames are searched half as often.
LONG_IDLE = 24

#: After a new shot, its whole-frame slices run this many times more, one a frame.
EAGER_ROUNDS = 1

#: Faces narrower than this at the shrunk frame's scale are small: the shrunk
#: search finds them less reliably (YuNet: under 20 px), the finest slices do.
SMALL_FACE = 20
#: A small face's surroundings reach this many face widths beyond its box.
SMALL_REACH = 5.0


def _finest(plan: list[SearchJob]) -> list[SearchJob]:
    """The distinct slices of ``plan`` at its finest scale (tiles, or the whole frame)."""
    scale = max(job.scale for job in plan)
    return [job for job in dict.fromkeys(plan) if job.scale == scale]


def _union(areas: list, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """``(x0, y0, x1, y1)`` areas clipped to the frame, overlapping ones merged."""
    merged: list[tuple[int, int, int, int]] = []
    for x0, y0, x1, y1 in areas:
        box = (max(0, x0), max(0, y0), min(width, x1), min(height, y1))
        if box[0] >= box[2] or box[1] >= box[3]:
            continue  # nothing of it in the frame
        # A grown box may reach areas it missed before: take them in until none is left.
        while hit := next((m for m in merged if _overlap(m, box)), None):
            merged.remove(hit)
            box = (
                min(box[0], hit[0]),
                min(box[1], hit[1]),
                max(box[2], hit[2]),
                max(box[3], hit[3]),
            )
        merged.append(box)
    return merged


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _coarse(plan: list[SearchJob]) -> list[SearchJob]:
    """The distinct slices of ``plan`` that search the whole (shrunk) frame."""
    return list(dict.fromkeys(job for job in plan if job.region is None))


def _with_options(config: PipelineConfig, options: dict[str, object]) -> PipelineConfig:
    """A copy of ``config`` with flat option names set, the CLI's names included.

    ``detect_every=1`` sets a :class:`PipelineConfig` field, ``smooth=False``
    one of its ``tracker``, ``detect_width=640`` one of its ``detector``, and so
    on (``detector="haar"`` names the detector); the caller's objects are never
    changed.
    """
    parts = {"detector": {}, "tracker": {}, "cuts": {}, "": {}}
    for key, value in options.items():
        if key == "model":
            key = "weights"  # the CLI's name for it
        if key == "detector" and isinstance(value, str):
            parts["detector"]["detector"] = value  # the detector's name, not its settings
            continue
        owner = next(
            (
                name
                for name in ("", "detector", "tracker", "cuts")
                if key in {f.name for f in fields(getattr(config, name) if name else config)}
            ),
            None,
        )
        if owner is None:
            raise VidkeysError(f"unknown pipeline option {key!r}")
        parts[owner][key] = value
    nested = {name: replace(getattr(config, name), **parts[name]) for name in parts if name}
    return replace(config, **nested, **parts[""])


def process(
    source: Path | str | Iterable[np.ndarray],
    config: PipelineConfig | None = None,
    keep_images: bool = False,
    **options: object,
) -> VideoRun:
    """Run the pipeline over a video, image, image folder or iterable of frames.

    Keyword options take the CLI's names, flat, e.g.
    ``process("a.mp4", detect_every=1, smooth=False, detect_width=640)``; they
    apply to a copy of ``config``. ``fps=`` is the rate of an image folder or
    of an iterable of frames (default 30); ``start=``/``end=`` read only that
    window of the source (seconds).
    """
    window = {k: options.pop(k) for k in ("fps", "start", "end") if k in options}
    return VideoRun(
        source, _with_options(config or PipelineConfig(), options), keep_images, **window
    )

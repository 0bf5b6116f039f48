"""Face tracks: a stable ``face_id`` per person across frames.

Between detections a face is followed from its own keypoints: the next
frame's crop is the Haar-like box of the previous points. A fresh detection
that overlaps a live (or recently lost) track continues that track instead of
starting a new one, so ids survive short gaps such as a blink of the detector
or a hand passing in front of the face.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vidkeys.config import TrackerConfig
from vidkeys.faces.crop import box_from_points, crop_box_from_points
from vidkeys.faces.detect import SAME_FACE, Detections, overlap
from vidkeys.faces.likeness import likeness
from vidkeys.faces.smooth import OneEuroFilter
from vidkeys.keypoints.regions import REGION_POINTS
from vidkeys.keypoints.weights import N_POINTS

#: Rows of a face's ``(68, 2)`` points that the eye and mouth stage places.
_REGION_ROWS = np.isin(np.arange(N_POINTS), REGION_POINTS)[:, None]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of ``(n, 4)`` and ``(m, 4)`` ``(x, y, w, h)`` boxes: ``(n, m)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1[:, None], bx1) - np.maximum(a[:, None, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(ay1[:, None], by1) - np.maximum(a[:, None, 1], b[:, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


@dataclass
class Track:
    """One followed face: its latest raw and smoothed points and bookkeeping."""

    face_id: int
    points: np.ndarray
    smoothed: np.ndarray
    confidence: float
    #: This frame's per-point confidence ``(68,)``, see ``KeypointPredictor``.
    point_confidence: np.ndarray
    last_frame: int
    #: What the face looked like in its last frame (:func:`vidkeys.faces.likeness.looks`).
    look: np.ndarray
    filter: OneEuroFilter | None = None
    misses: int = 0
    hits: int = 0
    #: The box to crop the next frame from: Haar-like, from the raw points,
    #: kept in step with them by :meth:`observe` (cropping, matching and
    #: duplicate checks all read it each frame). Not from the smoothed
    #: points: a crop that lags the face feeds slow drift back into the CNN,
    #: which the filter then cannot remove (on a still noisy clip: 0.054 % of
    #: the eye distance instead of 0.021 %).
    box: np.ndarray = field(init=False)
    #: Where the next frame's crop goes: ``box``, moved on by the last step
    #: when the face moves fast (more than a tenth of its width a frame), so a
    #: face moving by half its width a frame (a 5 fps clip, a quick turn) is
    #: not left behind. Slow and still faces are cropped at ``box``: a step
    #: of a few pixels is mostly the points' own jitter.
    crop_box: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.box = box_from_points(self.points)
        self.crop_box = crop_box_from_points(self.points)

    def observe(self, points: np.ndarray) -> None:
        """Take this frame's raw points (and the boxes that follow from them)."""
        self.points = points
        previous, self.box = self.box, box_from_points(points)
        step = self.box[:2] - previous[:2]
        fast = np.hypot(*step) > 0.1 * self.box[2]
        self.crop_box = crop_box_from_points(points)
        if fast:
            self.crop_box[:2] += step


#: What the tracker asks of the CNN: crop these boxes of this frame, return
#: points (frame pixels), face confidences, per-point confidences and each
#: face's look (:func:`vidkeys.faces.likeness.looks`).
Keypoints = Callable[[list[np.ndarray]], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class Tracker:
    """Keeps the tracks: one :meth:`step` per frame."""

    config: TrackerConfig = field(default_factory=TrackerConfig)
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 0

    def live(self) -> list[Track]:
        """Tracks seen in the previous frame: their points give this frame's crops."""
        return [t for t in self.tracks if t.misses == 0]

    def step(
        self,
        frame: int,
        timestamp: float,
        detections: Detections,
        keypoints: Keypoints,
        cut: bool = False,
        search: Callable[[], Detections] | None = None,
    ) -> list[Track]:
        """One frame: follow the live tracks, start or revive tracks from
        ``detections``, and return the tracks found in it (by id).

        At a ``cut`` every track ends first: whoever is there now gets a new
        id. Followed faces are cropped where their points say
        (:attr:`Track.crop_box`), detections from their boxes. A followed face
        that no longer looks like itself (``min_likeness``) is someone else:
        its track ends and the face there is a new one. When a followed face
        is lost or changes, ``search`` (the frame's face search, run now)
        looks for whoever came instead, so a new face starts on this frame,
        not the next. A new face's points are then predicted a second time
        from their own box, since a detector box frames a face differently
        from the points' box every later frame is cropped from.
        """
        if cut:
            self.tracks = []
        followed = self.live()
        new, revived = self._new_boxes(detections.start_boxes())
        points, conf, point_conf, look = keypoints([t.crop_box for t in followed] + list(new))
        changed = [
            i
            for i, t in enumerate(followed)
            if conf[i] >= self.config.min_confidence
            and likeness(t.look, look[i]) < self.config.min_likeness
        ]
        gone = bool(changed) or any(c < self.config.min_confidence for c in conf[: len(followed)])
        if changed:
            # Followed faces first, then the changed ones as new faces, then detections.
            order = [i for i in range(len(followed)) if i not in changed] + changed
            order += list(range(len(followed), len(points)))
            points, conf, point_conf, look = (a[order] for a in (points, conf, point_conf, look))
            for i in changed:
                self.tracks.remove(followed[i])
            revived = [None] * len(changed) + revived
            followed = [t for i, t in enumerate(followed) if i not in changed]
        k = len(followed)
        if gone and search is not None:
            # Faces lost just now may be found again, if they still look like themselves.
            held = conf[:k] >= self.config.min_confidence
            extra, extra_revived = self._new_boxes(
                search().start_boxes(),
                [t for t, h in zip(followed, held, strict=True) if h],
                [t for t, h in zip(followed, held, strict=True) if not h],
            )
            if len(extra) and len(points) > k:  # not the faces already placed as new
                placed = np.stack([box_from_points(p) for p in points[k:]])
                hit = overlap(extra[:, :4], placed) >= SAME_FACE
                # A changed face's points came from the crop of the face before it: where
                # the search found the newcomer, it is placed from the search's box instead.
                redo = np.zeros(len(placed), bool)
                redo[: len(changed)] = hit[:, : len(changed)].any(axis=0)
                keep = ~hit[:, len(changed) :].any(axis=1)
                extra = extra[keep]
                extra_revived = [r for r, kept in zip(extra_revived, keep, strict=True) if kept]
                stay = np.concatenate([np.ones(k, bool), ~redo])
                points, conf, point_conf, look = (a[stay] for a in (points, conf, point_conf, look))
                revived = [r for r, kept in zip(revived, ~redo, strict=True) if kept]
            if len(extra):
                more = keypoints(list(extra))
                points, conf, point_conf, look = (
                    np.concatenate([a, b])
                    for a, b in zip((points, conf, point_conf, look), more, strict=True)
                )
                revived = revived + extra_revived
        for _ in range(self.config.new_face_passes - 1 if len(points) > k else 0):
            points[k:], conf[k:], point_conf[k:], look[k:] = keypoints(
                [crop_box_from_points(p) for p in points[k:]]
            )
        return self._update(frame, timestamp, followed, revived, points, conf, point_conf, look)

    def _new_boxes(
        self,
        detections: np.ndarray,
        live: list[Track] | None = None,
        lost_now: list[Track] | None = None,
    ) -> tuple[np.ndarray, list[Track | None]]:
        """Split detections' start boxes: those that belong to a live track are dropped.

        Returns the remaining boxes and, per box, a lost track it may revive
        (matched by overlap with the track's last box) or ``None`` for a new face.
        ``live`` (default: :meth:`live`) and ``lost_now`` (followed faces lost in
        this frame, default none) let the frame's own search see the frame's news.
        """
        live = self.live() if live is None else live
        if len(detections) and live:
            # A box on a followed face, or inside it (a false "face" on an eye).
            boxes = np.stack([t.box for t in live])
            same = (iou(detections[:, :4], boxes) >= self.config.match_iou) | (
                overlap(detections[:, :4], boxes) >= SAME_FACE
            )
            detections = detections[~same.any(axis=1)]
        lost = [t for t in self.tracks if t.misses > 0] + list(lost_now or [])
        revive: list[Track | None] = []
        taken: set[int] = set()
        for box in detections:
            match = None
            if lost:
                scores = iou(box[None, :4], np.stack([t.box for t in lost]))[0]
                best = int(np.argmax(scores))
                if scores[best] >= self.config.match_iou and lost[best].face_id not in taken:
                    match = lost[best]
                    taken.add(match.face_id)
            revive.append(match)
        return detections, revive

    def _update(
        self,
        frame: int,
        timestamp: float,
        followed: list[Track],
        revived: list[Track | None],
        points: np.ndarray,
        confidence: np.ndarray,
        point_confidence: np.ndarray,
        look: np.ndarray,
    ) -> list[Track]:
        """Record this frame's CNN results; return the tracks found in it (by id).

        ``points``/``confidence``/``point_confidence`` hold first the followed
        tracks' faces, then the new boxes' faces, in the order they were cropped.
        """
        cfg = self.config
        found: list[Track] = []
        n = len(followed)
        for track, pts, conf, pconf, lk in zip(
            followed, points[:n], confidence[:n], point_confidence[:n], look[:n], strict=True
        ):
            if conf >= cfg.min_confidence:
                self._observe(track, pts, float(conf), pconf, lk, frame, timestamp)
                found.append(track)
            else:
                track.misses = 1
        for old, pts, conf, pconf, lk in zip(
            revived, points[n:], confidence[n:], point_confidence[n:], look[n:], strict=True
        ):
            if old is not None and likeness(old.look, lk) < cfg.min_likeness:
                # Someone else where a lost face was: a new face, and the lost one ends.
                if old in self.tracks:
                    self.tracks.remove(old)
                old = None
            if conf < (cfg.min_confidence if old is not None else cfg.new_confidence):
                continue  # a false detection, or a face too poor to track
            if old is None:
                old = Track(
                    self._next_id, pts, pts, float(conf), pconf, frame, lk, self._new_filter()
                )
                self._next_id += 1
                self.tracks.append(old)
            self._observe(old, pts, float(conf), pconf, lk, frame, timestamp)
            found.append(old)
        found = self._drop_duplicates(found)
        for t in self.tracks:
            if t not in found and t.misses > 0:
                t.misses = frame - t.last_frame
        self.tracks = [
            t
            for t in self.tracks
            if t in found or (t.misses <= cfg.max_gap and t.hits >= cfg.min_hits)
        ]
        return sorted(found, key=lambda t: t.face_id)

    def _new_filter(self) -> OneEuroFilter | None:
        cfg = self.config
        if not cfg.smooth:
            return None
        return OneEuroFilter(
            np.where(_REGION_ROWS, cfg.region_min_cutoff, cfg.min_cutoff),
            cfg.beta,
            np.where(_REGION_ROWS, cfg.region_d_cutoff, OneEuroFilter.D_CUTOFF),
        )

    def _observe(
        self,
        track: Track,
        pts: np.ndarray,
        conf: float,
        pconf: np.ndarray,
        look: np.ndarray,
        frame: int,
        t: float,
    ) -> None:
        if track.misses > 0 and track.filter is not None:
            track.filter = self._new_filter()  # after a gap, do not drag old points along
        track.observe(pts)
        track.confidence = conf
        track.point_confidence = pconf
        track.look = look
        track.misses = 0
        track.hits += 1
        track.last_frame = frame
        if track.filter is None:
            track.smoothed = pts
        else:
            track.smoothed = track.filter(pts, t, float(track.box[2]))

    def _drop_duplicates(self, found: list[Track]) -> list[Track]:
        """Tracks on one face: two that converged (keep the older id), or a
        small one inside a face (keep the face: 1.5 times wider or more)."""
        keep: list[Track] = []
        for t in sorted(found, key=lambda t: t.face_id):
            hits = [k for k in keep if overlap(t.box, k.box)[0, 0] >= SAME_FACE]
            if not hits:
                keep.append(t)
            elif all(t.box[2] > 1.5 * k.box[2] for k in hits):
                for k in hits:
                    keep.remove(k)
                    self.tracks.remove(k)
                keep.append(t)
            else:
                self.tracks.remove(t)
        return keep

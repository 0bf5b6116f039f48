"""Geometric action units and blink events, from each face's points along its track.

Emotion-analysis scripts written for OpenFace read ``AU45`` (blink), ``AU25``
(lips part) and ``AU26`` (jaw drop) by name. OpenFace predicts them from the
face's appearance (an SVR on HOG features and shape, calibrated to the
person). vidkeys measures them from the points, each against the face's own
baseline along its track, so a person's narrow eyes or slightly parted
resting lips read as that person's neutral, not as a half blink:

- eyes: each eye's aspect ratio (:func:`~vidkeys.keypoints.features.eye_aspect_ratio`)
  over its **median** in the track's last :data:`BASELINE_SECONDS` is that
  eye's *openness* (1: as open as usual). The median, not a high percentile:
  eyes are open most of the time (a blink takes ~0.1-0.4 s every few
  seconds), so the median is the usual open eye and stays so while up to
  half the window is shut; a high percentile follows wide-eyed moments
  (surprise, grimaces) and then ordinary open eyes read half shut
  (``benchmarks/bench_expression.py --sweep-eye-percentile`` compares them);
- lips: the inner-lip gap (:func:`~vidkeys.keypoints.features.lip_gap`, in
  eye distances) above its 10th percentile in the window, the face's shut lips
  (the points of shut lips are never exactly together);
- jaw: nose-to-chin over the nose's length
  (:func:`~vidkeys.keypoints.features.jaw_opening`) over its 10th percentile
  in the window, the closed jaw.

The baselines are **causal**: a frame's values depend on that frame and the
ones before it, never on later ones. Rows then stream as frames are done
(``-o -``, live sources), memory stays constant on a long video, a row once
written never changes, and a part of a video (``--start``) reads as the same
part of the whole after its first seconds. The cost: a track's first frames
have little history (its first frame reads 1, as open as usual), and a face
whose eyes are shut when it appears is seen shut only once they have opened.
Only rows whose points are trusted (``confidence`` >= 0.5) feed the baselines:
the window is a face's last seconds of trusted rows.

One rule gives ``AU45_c`` and the blink events. A *closure* starts on the
first frame whose mean openness of the two eyes is under :data:`SHUT`, or
one of whose eyes is under :data:`WINK_SHUT` (a wink with the other eye wide
open), and lasts until a frame of the same face reads over :data:`REOPEN`
with both eyes over :data:`WINK_REOPEN` (the gaps between the levels keep one
blink from flickering into several); ``AU45_c`` is 1 on its frames, winks'
included: it marks eye closure, and the event says whose eyes. When the eyes
are seen open again the closure is a :class:`~vidkeys.results.Blink`: its
frames, times, and whose eyes. It is one
eye's (a wink) when, at the frame where one eye is most shut, that eye is
under :data:`WINK_SHUT` while the other is at least :data:`WINK_OPEN`; else
both. A closure still running when the face is lost for good or the input
ends is not an event (its end is unknown); its ``AU45_c`` frames stay.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from vidkeys.keypoints.confidence import SUCCESS_THRESHOLD
from vidkeys.keypoints.features import eye_aspect_ratio, jaw_opening, lip_gap
from vidkeys.results import Blink, Faces

#: OpenFace's intensity columns (0-5) vidkeys writes, in OpenFace's order.
AU_INTENSITY = ("AU25_r", "AU26_r", "AU45_r")
#: OpenFace's presence columns (0/1), in OpenFace's order.
AU_PRESENCE = ("AU25_c", "AU26_c", "AU45_c")
#: Each eye's openness, 1 as open as usual: vidkeys' own columns.
EYE_COLUMNS = ("eye_open_right", "eye_open_left")
#: The fields of ``Faces.aus``, in the order the CSV writes them.
AU_DTYPE = np.dtype(
    [(name, np.float64) for name in AU_INTENSITY]
    + [(name, np.int8) for name in AU_PRESENCE]
    + [(name, np.float64) for name in EYE_COLUMNS]
)

#: Seconds of a track's past its baselines are taken over: longer than a
#: deliberate eye closure, short enough to follow a head turning for good.
BASELINE_SECONDS = 10.0
#: The percentile of each eye's aspect ratio taken as its usual opening.
EYE_PERCENTILE = 50
#: The percentile of the lip gap and of the jaw's opening taken as neutral.
NEUTRAL_PERCENTILE = 10
#: A closure starts under this mean openness of the two eyes (half as open
#: as usual) and ends over REOPEN. SHUT was chosen on lp_d9, lp_d13 and
#: lp_s20 (the middle of the values that find all their blinks with none
#: false) and tested on the other four clips (docs/benchmarks.md, "Action
#: units"; ``benchmarks/bench_expression.py --sweep-shut``).
SHUT = 0.5
REOPEN = 0.6
#: A closure is one eye's when that eye is under WINK_SHUT (a quarter of
#: its usual height) while the other is at least WINK_OPEN: over what the less
#: shut eye read in the blinks of the clips without winks (``bench_expression.py``
#: prints it per clip), so that none of those blinks reads as a wink.
WINK_SHUT = 0.25
WINK_OPEN = 0.4
#: Both eyes must be over this for a closure to end (WINK_SHUT's margin, as REOPEN's).
WINK_REOPEN = 0.35
#: Lips part (AU25_c) when the gap is this many eye distances over neutral;
#: AU25_r is one step for every LIPS_STEP (5 at 0.25 eye distances). The
#: bench prints AU25_c and AU26_c on the real clips' shut and wide-open mouths.
LIPS_APART = 0.03
LIPS_STEP = 0.05
#: The jaw drops (AU26_c) when nose-to-chin is this share over neutral and
#: the lips part; AU26_r is one step for every JAW_STEP (5 at 20 % longer).
JAW_DROP = 0.10
JAW_STEP = 0.04
#: Intensities are OpenFace's 0-5 scale.
MAX_INTENSITY = 5.0


def _intensity(value: float) -> float:
    """``value`` within OpenFace's 0-5 (NaN stays NaN: points that give no measure)."""
    return min(max(float(value), 0.0), MAX_INTENSITY)


class _Window:
    """A value's last :data:`BASELINE_SECONDS` of a track, and a percentile of them.

    The values are also kept sorted (``bisect``), so a percentile is a lookup
    rather than a sort of the window on every frame of every face.
    """

    def __init__(self) -> None:
        self._times: deque[tuple[float, float]] = deque()
        self._sorted: list[float] = []

    def add(self, t: float, value: float) -> None:
        if np.isfinite(value):
            self._times.append((t, value))
            bisect.insort(self._sorted, value)
        while self._times and t - self._times[0][0] > BASELINE_SECONDS:
            _, old = self._times.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    def percentile(self, q: float, current: float) -> float:
        """The ``q``-th percentile of the window (numpy's linear rule); ``current``
        while it is empty."""
        values = self._sorted
        if not values:
            return current
        position = q / 100 * (len(values) - 1)
        low = int(position)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * (position - low)


@dataclass
class _Closure:
    """An eye closure in progress: where it started, where it is deepest."""

    start: int
    start_time: float
    end: int
    end_time: float
    #: At the frame where one eye is most shut: that eye's openness, the
    #: other's, and which eye it is.
    shut: float = np.inf
    other: float = np.inf
    eye: str = "right"

    def see(self, index: int, t: float, right: float, left: float) -> None:
        self.end, self.end_time = index, t
        low, high, eye = (right, left, "right") if right <= left else (left, right, "left")
        if low < self.shut:
            self.shut, self.other, self.eye = low, high, eye

    def eyes(self) -> str:
        """``both``, or the one eye shut while the other stayed open."""
        return self.eye if self.shut < WINK_SHUT and self.other >= WINK_OPEN else "both"


@dataclass
class _Track:
    """One face's baselines and its closure in progress."""

    last_time: float
    eyes: tuple[_Window, _Window] = field(default_factory=lambda: (_Window(), _Window()))
    lips: _Window = field(default_factory=_Window)
    jaw: _Window = field(default_factory=_Window)
    closure: _Closure | None = None


class ActionUnits:
    """Per frame, in order: each face's action units, and the blinks that ended.

    Fed the tracked faces of every frame (``face_id`` ties a face to its
    history); returns them with ``aus`` filled (fields :data:`AU_DTYPE`) and
    the :class:`~vidkeys.results.Blink` events whose eyes were seen open
    again in this frame.
    """

    def __init__(self) -> None:
        self._tracks: dict[int, _Track] = {}

    def __call__(self, index: int, timestamp: float, faces: Faces) -> tuple[Faces, list[Blink]]:
        table = np.zeros(len(faces), AU_DTYPE)
        blinks: list[Blink] = []
        points = np.asarray(faces.points, np.float64)
        ears = np.stack([eye_aspect_ratio(points, 36), eye_aspect_ratio(points, 42)], axis=1)
        gaps, jaws = lip_gap(points), jaw_opening(points)
        for i, face_id in enumerate(faces.face_id.tolist()):
            track = self._tracks.get(face_id) or _Track(timestamp)
            self._tracks[face_id] = track
            track.last_time = timestamp
            trusted = faces.confidence[i] >= SUCCESS_THRESHOLD
            row = table[i]
            openness = []
            for ear, window in zip(ears[i], track.eyes, strict=True):
                if trusted:
                    window.add(timestamp, ear)
                base = window.percentile(EYE_PERCENTILE, ear)
                openness.append(ear / base if base > 0 else np.nan)
            right, left = openness
            row["eye_open_right"], row["eye_open_left"] = right, left
            mean = (right + left) / 2
            row["AU45_r"] = _intensity(MAX_INTENSITY * (1 - mean))
            ended = self._close(track, face_id, index, timestamp, right, left, mean)
            if ended is not None:
                blinks.append(ended)
            row["AU45_c"] = track.closure is not None
            if trusted:
                track.lips.add(timestamp, gaps[i])
                track.jaw.add(timestamp, jaws[i])
            apart = gaps[i] - track.lips.percentile(NEUTRAL_PERCENTILE, gaps[i])
            jaw_neutral = track.jaw.percentile(NEUTRAL_PERCENTILE, jaws[i])
            drop = jaws[i] / jaw_neutral - 1 if jaw_neutral > 0 else np.nan
            row["AU25_r"] = _intensity(apart / LIPS_STEP)
            row["AU26_r"] = _intensity(drop / JAW_STEP)
            row["AU25_c"] = apart > LIPS_APART
            row["AU26_c"] = apart > LIPS_APART and drop > JAW_DROP
        self._forget(timestamp)
        return replace(faces, aus=table), blinks

    @staticmethod
    def _close(
        track: _Track,
        face_id: int,
        index: int,
        t: float,
        right: float,
        left: float,
        mean: float,
    ) -> Blink | None:
        """Advance the face's closure by one frame; the blink that ended, if one did."""
        if not np.isfinite(mean):
            return None
        closure = track.closure
        if closure is None:
            if mean < SHUT or min(right, left) < WINK_SHUT:
                track.closure = _Closure(index, t, index, t)
                track.closure.see(index, t, right, left)
            return None
        if mean <= REOPEN or min(right, left) <= WINK_REOPEN:
            closure.see(index, t, right, left)
            return None
        track.closure = None
        return Blink(
            face_id=face_id,
            start=closure.start,
            end=closure.end,
            start_time=closure.start_time,
            end_time=closure.end_time,
            duration=t - closure.start_time,
            eyes=closure.eyes(),
        )

    def _forget(self, now: float) -> None:
        """Drop faces unseen for a whole window: their baselines are empty by then."""
        gone = [k for k, v in self._tracks.items() if now - v.last_time > BASELINE_SECONDS]
        for face_id in gone:
            del self._tracks[face_id]

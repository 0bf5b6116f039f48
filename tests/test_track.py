"""Track bookkeeping and the One Euro filter, without the CNN."""

from __future__ import annotations

import numpy as np

from tests.conftest import template_points
from vidkeys.crop import box_from_points
from vidkeys.smooth import OneEuroFilter
from vidkeys.track import Tracker, TrackerConfig, iou


def _face(x: float) -> np.ndarray:
    return template_points() * 40 + [x, 200]


def _step(tracker: Tracker, frame: int, detections: list[np.ndarray], conf: list[float]):
    """One frame: follow live tracks (found where they were), then offer detections."""
    followed = tracker.live()
    boxes = np.array([box_from_points(p) for p in detections]).reshape(-1, 4)
    new, revived = tracker.new_boxes(boxes)
    pts = [t.points for t in followed]
    # A detection's CNN points: the face whose box it is.
    pts += [min(detections, key=lambda p, b=b: np.abs(box_from_points(p) - b).sum()) for b in new]
    confidence = np.array(conf[: len(followed)] + [0.95] * len(new))
    points = np.array(pts).reshape(-1, 68, 2)
    point_conf = np.ones((len(points), 68))
    return tracker.update(frame, frame / 30, followed, revived, points, confidence, point_conf)


def test_ids_are_stable_and_survive_a_short_gap() -> None:
    tracker = Tracker(TrackerConfig(smooth=False))
    a, b = _face(100), _face(400)
    found = _step(tracker, 0, [a, b], [])
    assert [t.face_id for t in found] == [0, 1]
    for f in range(1, 5):
        assert [t.face_id for t in _step(tracker, f, [], [0.9, 0.9])] == [0, 1]
    # Face 1 is lost for three frames (CNN says: no face) ...
    assert [t.face_id for t in _step(tracker, 5, [], [0.9, 0.1])] == [0]
    assert [t.face_id for t in tracker.live()] == [0]  # 1 is kept, but not followed
    for f in range(6, 8):
        assert [t.face_id for t in _step(tracker, f, [], [0.9])] == [0]
    # ... then Haar finds it again where it was: same id, not a new one.
    found = _step(tracker, 8, [b], [0.9])
    assert [t.face_id for t in found] == [0, 1]
    assert [t.face_id for t in tracker.live()] == [0, 1]


def test_a_scene_cut_ends_every_track() -> None:
    tracker = Tracker(TrackerConfig(smooth=False))
    a = _face(100)
    for f in range(4):
        _step(tracker, f, [a] if f == 0 else [], [0.9])
    tracker.end_all()
    assert [t.face_id for t in _step(tracker, 4, [a], [])] == [1]


def test_a_box_inside_a_followed_face_starts_no_track() -> None:
    """A false "face" on an eye: IoU with the face's box is small, but it lies inside it."""
    tracker = Tracker(TrackerConfig(smooth=False))
    a = _face(100)
    _step(tracker, 0, [a], [])
    eye = box_from_points(a)[None] * [1, 1, 0.25, 0.25] + [10, 10, 0, 0]
    assert iou(eye, box_from_points(a)[None])[0, 0] < 0.1
    new, _ = tracker.new_boxes(eye)
    assert len(new) == 0


def test_long_gap_gives_a_new_id_and_one_frame_tracks_vanish() -> None:
    cfg = TrackerConfig(smooth=False, max_gap=3)
    tracker = Tracker(cfg)
    a = _face(100)
    _step(tracker, 0, [a], [])
    for f in range(1, 4):
        _step(tracker, f, [], [0.9])
    _step(tracker, 4, [], [0.1])  # lost
    for f in range(5, 10):
        _step(tracker, f, [], [])
    assert tracker.tracks == []  # gap longer than max_gap
    assert [t.face_id for t in _step(tracker, 10, [a], [])] == [1]
    # A track seen in one frame only is not kept through a gap.
    tracker = Tracker(cfg)
    _step(tracker, 0, [a], [])
    _step(tracker, 1, [], [0.1])
    assert tracker.tracks == []


def test_new_faces_need_a_higher_score_than_followed_ones() -> None:
    tracker = Tracker(TrackerConfig(smooth=False))
    boxes = np.array([box_from_points(_face(100))])
    _, revived = tracker.new_boxes(boxes)
    cfg = tracker.config
    between = (cfg.min_confidence + cfg.new_confidence) / 2
    found = tracker.update(
        0, 0.0, [], revived, _face(100)[None], np.array([between]), np.ones((1, 68))
    )
    assert found == []  # enough to keep a track alive, but not to start one


def test_iou() -> None:
    a = np.array([[0, 0, 10, 10]])
    np.testing.assert_allclose(
        iou(a, np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]])), [[1.0, 50 / 150, 0.0]]
    )


def test_one_euro_smooths_noise_and_follows_motion() -> None:
    rng = np.random.default_rng(0)
    f = OneEuroFilter()
    # Noise of 0.3 % of the face width, like the CNN's own on a still face.
    noisy = 100.0 + rng.normal(0, 0.3, 300)
    still = [f(np.array([v]), t / 30, scale=100) for t, v in enumerate(noisy)]
    assert np.std(still[50:]) < np.std(noisy) / 2.5
    g = OneEuroFilter()
    moving = [g(np.array([5.0 * t]), t / 30, scale=100) for t in range(60)]
    assert abs(moving[-1][0] - 5.0 * 59) < 5.0  # 150 px/s followed within a frame's motion

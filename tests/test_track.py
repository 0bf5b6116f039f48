"""Track bookkeeping and the One Euro filter, without the CNN."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import template_points
from vidkeys.config import TrackerConfig
from vidkeys.faces.crop import box_from_points
from vidkeys.faces.detect import Detections
from vidkeys.faces.smooth import OneEuroFilter
from vidkeys.faces.track import Tracker, iou


def _same(n: int) -> np.ndarray:
    """Looks of ``n`` faces that all look alike (likeness 1)."""
    return np.ones((n, 1))


def _face(x: float) -> np.ndarray:
    return template_points() * 40 + [x, 200]


def _step(tracker: Tracker, frame: int, detections: list[np.ndarray], conf: list[float]):
    """One frame: live tracks are found where they were (with ``conf``), and
    each detection (a face's points) is offered; a new face scores 0.95."""
    faces = [t.points for t in tracker.live()] + detections
    calls = []

    def keypoints(boxes: list[np.ndarray]):
        # The "CNN": the face whose box the crop box is nearest.
        pts = [
            min(faces, key=lambda p, b=b: np.abs(box_from_points(p) - b[:4]).sum()) for b in boxes
        ]
        first = [] if calls else conf[: len(tracker.live())]
        calls.append(len(boxes))
        scores = np.array(first + [0.95] * (len(boxes) - len(first)))
        return (
            np.array(pts).reshape(-1, 68, 2),
            scores,
            np.ones((len(boxes), 68)),
            _same(len(boxes)),
        )

    boxes = np.array([box_from_points(p) for p in detections]).reshape(-1, 4)
    return tracker.step(frame, frame / 30, Detections.from_boxes(boxes), keypoints)


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
    found = _step_boxes(tracker, 4, box_from_points(a)[None], a, cut=True)
    assert [t.face_id for t in found] == [1]


def test_a_box_inside_a_followed_face_starts_no_track() -> None:
    """A false "face" on an eye: IoU with the face's box is small, but it lies inside it."""
    tracker = Tracker(TrackerConfig(smooth=False))
    a = _face(100)
    _step(tracker, 0, [a], [])
    eye = box_from_points(a)[None] * [1, 1, 0.25, 0.25] + [10, 10, 0, 0]
    assert iou(eye, box_from_points(a)[None])[0, 0] < 0.1
    assert [t.face_id for t in _step_boxes(tracker, 1, eye, a)] == [0]


def _step_boxes(
    tracker: Tracker, frame: int, boxes: np.ndarray, face: np.ndarray, cut: bool = False
):
    """A frame where the CNN finds ``face`` in every crop."""
    return tracker.step(
        frame,
        frame / 30,
        Detections.from_boxes(boxes),
        lambda b: (
            np.stack([face] * len(b)),
            np.full(len(b), 0.95),
            np.ones((len(b), 68)),
            _same(len(b)),
        ),
        cut,
    )


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
    cfg = tracker.config
    between = (cfg.min_confidence + cfg.new_confidence) / 2
    face = _face(100)
    found = tracker.step(
        0,
        0.0,
        Detections.from_boxes(box_from_points(face)[None]),
        lambda b: (
            np.stack([face] * len(b)),
            np.full(len(b), between),
            np.ones((len(b), 68)),
            _same(len(b)),
        ),
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


def test_a_face_that_stops_looking_like_itself_gets_a_new_id() -> None:
    """The same place, another person (no cut): the old track ends, the face starts anew."""
    tracker = Tracker(TrackerConfig(smooth=False))
    face = _face(100)
    person_a, person_b = np.eye(2)  # two looks with likeness 0
    calls: list[int] = []

    def keypoints(look: np.ndarray):
        def cnn(boxes: list[np.ndarray]):
            calls.append(len(boxes))
            n = len(boxes)
            return np.stack([face] * n), np.full(n, 0.95), np.ones((n, 68)), np.stack([look] * n)

        return cnn

    none = Detections.empty()
    first = tracker.step(
        0, 0.0, Detections.from_boxes(box_from_points(face)[None]), keypoints(person_a)
    )
    assert [t.face_id for t in first] == [0]
    assert [t.face_id for t in tracker.step(1, 1 / 30, none, keypoints(person_a))] == [0]
    calls.clear()
    swapped = tracker.step(2, 2 / 30, none, keypoints(person_b))
    assert [t.face_id for t in swapped] == [1]
    assert calls == [1, 1]  # followed once, then placed again from its own points as a new face
    assert [t.face_id for t in tracker.tracks] == [1]  # the old track is gone, not lost
    assert [t.face_id for t in tracker.step(3, 3 / 30, none, keypoints(person_b))] == [1]


def test_a_lost_face_is_replaced_on_the_same_frame() -> None:
    """The followed face is gone (the CNN finds none in its crop): the search runs at
    once, and the face that came instead starts on this frame, not the next."""
    tracker = Tracker(TrackerConfig(smooth=False))
    old, new = _face(100), _face(400)
    _step(tracker, 0, [old], [])
    searches: list[int] = []

    def search() -> Detections:
        searches.append(1)
        return Detections.from_boxes(box_from_points(new)[None])

    def keypoints(boxes: list[np.ndarray]):
        # Nothing where the old face was; the new face wherever a crop is cut near it.
        near = [np.abs(box_from_points(new)[:2] - b[:2]).sum() < 50 for b in boxes]
        pts = np.stack([new if n else old for n in near])
        conf = np.array([0.95 if n else 0.01 for n in near])
        return pts, conf, np.ones((len(boxes), 68)), _same(len(boxes))

    found = tracker.step(1, 1 / 30, Detections.empty(), keypoints, search=search)
    assert searches == [1]
    assert [t.face_id for t in found] == [1]
    assert np.allclose(found[0].points, new)
    # While the face stays, no search is asked for.
    tracker.step(2, 2 / 30, Detections.empty(), keypoints, search=search)
    assert searches == [1]


def _toward(face: np.ndarray, look: np.ndarray):
    """A "CNN" that finds ``face`` only half-way from wherever the crop is: each pass
    halves the distance, so where the first crop is cut shows in the points."""

    def cnn(boxes: list[np.ndarray]):
        target = box_from_points(face)
        pts = [
            face + (np.asarray(b[:2]) + b[2] / 2 - target[:2] - target[2] / 2) / 2 for b in boxes
        ]
        n = len(boxes)
        return np.stack(pts), np.full(n, 0.95), np.ones((n, 68)), np.stack([look] * n)

    return cnn


def test_a_changed_face_the_search_finds_is_placed_from_the_search_box() -> None:
    """Another person a little to the side (no cut): the newcomer is placed from the
    search's box, not from the crop cut for the person before."""
    tracker = Tracker(TrackerConfig(smooth=False))
    before, after = _face(100), _face(150)
    person_a, person_b = np.eye(2)
    tracker.step(
        0, 0.0, Detections.from_boxes(box_from_points(before)[None]), _toward(before, person_a)
    )
    tracker.step(1, 1 / 30, Detections.empty(), _toward(before, person_a))

    def search() -> Detections:
        return Detections.from_boxes(box_from_points(after)[None])

    found = tracker.step(2, 2 / 30, Detections.empty(), _toward(after, person_b), search=search)
    assert [t.face_id for t in found] == [1]
    assert np.abs(found[0].points - after).max() < 1  # from the old crop: 6 px off
    assert [t.face_id for t in tracker.tracks] == [1]


@pytest.mark.parametrize(("look", "face_id"), [((1.0, 0.0), 0), ((0.0, 1.0), 1)])
def test_a_lost_face_found_again_keeps_its_id_only_if_it_looks_the_same(
    look: tuple[float, float], face_id: int
) -> None:
    """The followed face's crop finds nothing, and the search finds a face where it was:
    the same person is found again (same id); another person is a new face."""
    tracker = Tracker(TrackerConfig(smooth=False))
    face = _face(100)
    detected = Detections.from_boxes(box_from_points(face)[None])
    tracker.step(0, 0.0, detected, _toward(face, np.array([1.0, 0.0])))
    calls: list[int] = []

    def cnn(boxes: list[np.ndarray]):
        calls.append(len(boxes))
        pts, _, pconf, looks = _toward(face, np.array(look))(boxes)
        conf = np.full(len(boxes), 0.01 if len(calls) == 1 else 0.95)  # lost, then found
        return pts, conf, pconf, looks

    found = tracker.step(1, 1 / 30, Detections.empty(), cnn, search=lambda: detected)
    assert [t.face_id for t in found] == [face_id]
    assert len(tracker.tracks) == 1

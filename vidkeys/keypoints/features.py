"""Measures that downstream scripts compute from the points again and again.

All take ``(n, 68, 2)`` points (iBUG order) and return one value per face.
"Right" and "left" are the person's own, as in dlib's and imutils' naming:
points 36-41 are the right eye (on the image's left for a face looking at
the camera), 42-47 the left eye.

* Eye aspect ratio (Soukupova and Cech, 2016): the two lid-to-lid distances
  over twice the corner-to-corner width; about 0.25-0.35 open, under ~0.2
  closed, so a dip over a few frames is a blink.
* Mouth aspect ratio: the three inner-lip openings (61-67, 62-66, 63-65)
  over three times the inner-mouth width (60-64); 0 closed, ~0.5 and more
  wide open.
* Inter-ocular distance: outer eye corners (36-45) in pixels, the 300-W
  normaliser; divide other distances by it to make them scale-free.
* Jaw opening: nose base to chin (33-8) over the nose's length (27-33), both
  up and down the face, so nodding shortens them alike; it grows as the jaw
  drops.
"""

from __future__ import annotations

import numpy as np

#: CSV column names, in order, as written by ``--features``.
FEATURE_COLUMNS = ("ear_right", "ear_left", "mar", "iod")


def _dist(points: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(points[:, a] - points[:, b], axis=-1)


def eye_aspect_ratio(points: np.ndarray, first: int) -> np.ndarray:
    """EAR of the eye whose six points start at ``first`` (36: right eye, 42: left)."""
    p = first
    lids = _dist(points, p + 1, p + 5) + _dist(points, p + 2, p + 4)
    return lids / (2.0 * _dist(points, p, p + 3))


def mouth_aspect_ratio(points: np.ndarray) -> np.ndarray:
    """Inner-lip opening over inner-mouth width."""
    gaps = _dist(points, 61, 67) + _dist(points, 62, 66) + _dist(points, 63, 65)
    return gaps / (3.0 * _dist(points, 60, 64))


def eye_opening(points: np.ndarray) -> np.ndarray:
    """The two eyes' mean EAR: what blink rules threshold."""
    return (eye_aspect_ratio(points, 36) + eye_aspect_ratio(points, 42)) / 2


def lip_gap(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap at the middle (62-66) over the outer eye corners: near 0 shut."""
    return _dist(points, 62, 66) / interocular_distance(points)


def jaw_opening(points: np.ndarray) -> np.ndarray:
    """Nose base to chin over the nose's length: larger as the jaw drops."""
    return _dist(points, 33, 8) / _dist(points, 27, 33)


def interocular_distance(points: np.ndarray) -> np.ndarray:
    """Outer eye corner to outer eye corner, in pixels."""
    return _dist(points, 36, 45)


def face_features(points: np.ndarray) -> np.ndarray:
    """All of :data:`FEATURE_COLUMNS` as an ``(n, 4)`` array."""
    points = np.asarray(points, np.float64)
    return np.stack(
        [
            eye_aspect_ratio(points, 36),
            eye_aspect_ratio(points, 42),
            mouth_aspect_ratio(points),
            interocular_distance(points),
        ],
        axis=1,
    )

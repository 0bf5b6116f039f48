"""What the pipeline hands out per frame: small dataclasses of numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidkeys.predictor import N_POINTS


@dataclass(frozen=True)
class Faces:
    """The faces of one frame, row ``i`` of every array belonging to face ``i``.

    ``points`` are ``(n, 68, 2)`` pixel coordinates in iBUG order; ``boxes``
    are ``(x, y, w, h)`` Haar-style face boxes derived from the points;
    ``confidence`` in [0, 1] is the lower of the CNN's face score and the
    points' mean confidence; ``point_confidence`` ``(n, 68)`` in [0, 1] is how
    sharp each point's heatmap peak was (see
    :func:`vidkeys.predictor.point_confidence`); ``rotation`` (pitch, yaw,
    roll in radians) and ``translation`` (mm) are the head pose, in
    OpenFace's conventions (see :mod:`vidkeys.pose`).
    """

    face_id: np.ndarray
    boxes: np.ndarray
    points: np.ndarray
    confidence: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    point_confidence: np.ndarray

    def __len__(self) -> int:
        return len(self.face_id)

    @classmethod
    def empty(cls) -> Faces:
        """No face in the frame."""
        return cls(
            np.zeros(0, np.int64),
            np.zeros((0, 4)),
            np.zeros((0, N_POINTS, 2)),
            np.zeros(0),
            np.zeros((0, 3)),
            np.zeros((0, 3)),
            np.zeros((0, N_POINTS)),
        )


@dataclass(frozen=True)
class FrameResult:
    """One processed frame: where it is in the source and the faces found in it.

    ``image`` is the BGR frame when the run was asked to keep frames (for
    drawing), else ``None``.
    """

    index: int
    timestamp: float
    faces: Faces
    image: np.ndarray | None = None

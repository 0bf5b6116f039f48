"""A linear correction of the network's 68 points, in each face's own frame.

The served network's points miss the labels by a pattern it never learns
away: the same on the training people as on held-out ones (per-point mean
offsets correlate 0.87-0.90 between the two), and partly a function of the
face's shape (a wide-open mouth, a turned head). A linear map from the
points' shape to that miss, fitted on the training people's faces
(:mod:`vidkeys.training.correction`) and subtracted from every answer, takes
0.07-0.10 points off the held-out NME for any of the models measured, at no
CNN cost (saved_models/README.md, "Session 10").

It works in the face's frame: origin at the points' mean, x along the outer
eye corners (36 -> 45), unit the eye distance. A face's shape there is the
same however it is placed, turned in the image or scaled, so one map serves
every crop, frame and face size. The map is low-rank: the shapes' first
principal components in, a correction of all 136 coordinates out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vidkeys.mirror import eye_axes

#: Key of the correction in a weights file's metadata (and its graph's).
META_KEY = "shape_correction"
_FIELDS = ("mean", "basis", "weights", "offset")


def face_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Origin ``(n, 2)``, eye axis ``(n, 2)``, its normal ``(n, 2)`` and eye distance
    ``(n, 1)`` of each face's points ``(n, 68, 2)``."""
    axis, dist = eye_axes(points)
    normal = np.stack([-axis[..., 1], axis[..., 0]], axis=-1)
    return points.mean(axis=1), axis, normal, np.maximum(dist, 1e-9)


def to_face(points: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Points ``(n, 68, 2)`` in the face frame of ``reference`` (default: their own)."""
    origin, axis, normal, dist = face_frame(points if reference is None else reference)
    rel = points - origin[:, None]
    along = (rel * axis[:, None]).sum(axis=-1)
    across = (rel * normal[:, None]).sum(axis=-1)
    return np.stack([along, across], axis=-1) / dist[:, None]


def from_face(shape: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Face-frame coordinates ``shape (n, 68, 2)`` back to the pixels of ``points``' frame."""
    origin, axis, normal, dist = face_frame(points)
    scaled = shape * dist[:, None]
    return origin[:, None] + scaled[..., :1] * axis[:, None] + scaled[..., 1:] * normal[:, None]


@dataclass(frozen=True)
class ShapeCorrection:
    """``miss = ((shape - mean) @ basis.T) @ weights + offset`` in face-frame units,
    subtracted from each face's shape.

    ``mean (136,)``: the fitted faces' mean shape; ``basis (k, 136)``: its first
    ``k`` principal directions; ``weights (k, 136)``: the ridge fit of the miss
    on them; ``offset (136,)``: the mean miss.
    """

    mean: np.ndarray
    basis: np.ndarray
    weights: np.ndarray
    offset: np.ndarray

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """The corrected ``(n, 68, 2)`` points, in the same pixels as ``points``."""
        if len(points) == 0:
            return points
        shape = to_face(points.astype(np.float64))
        flat = shape.reshape(len(points), -1)
        miss = ((flat - self.mean) @ self.basis.T) @ self.weights + self.offset
        return from_face(shape - miss.reshape(shape.shape), points).astype(points.dtype)

    def to_meta(self) -> dict[str, Any]:
        """JSON-ready lists for a weights file's metadata."""
        return {name: np.round(getattr(self, name), 6).tolist() for name in _FIELDS}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> ShapeCorrection | None:
        """The correction in a weights file's metadata, or None where it has none."""
        entry = meta.get(META_KEY)
        if not entry:
            return None
        return cls(*(np.asarray(entry[name], np.float64) for name in _FIELDS))

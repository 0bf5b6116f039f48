"""A linear correction of the network's 68 points, in each face's own frame.

The served network's points miss the labels by a pattern it never learns
away: the same on the training people as on held-out ones (per-point mean
offsets correlate 0.87-0.90 between the two), and partly a function of the
face's shape. A linear map from the
points' shape to that miss, fitted on the training people's faces
(:mod:`vidkeys.training.correction`) and subtracted from every answer, takes
0.07-0.10 points off the held-out NME for any of the models measured, at no
CNN cost (saved_models/README.md, "What was tried").

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

#: Key of the correction in a weights file's metadata (and its graph's).
META_KEY = "shape_correction"
_FIELDS = ("mean", "basis", "weights", "offset")


def _complex(points: np.ndarray) -> np.ndarray:
    return points[..., 0] + 1j * points[..., 1]


def _frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Origin and eye axis (36 -> 45) of faces ``(n, 68, 2)``, as ``(n, 1)`` complex
    numbers: dividing by the axis turns and scales a face into its frame at once,
    two to five times faster than the same steps on real vectors."""
    z = _complex(points)
    axis = z[:, 45] - z[:, 36]
    return z.mean(axis=1, keepdims=True), np.where(axis == 0, 1e-9, axis)[:, None]


def to_face(points: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Points ``(n, 68, 2)`` in the face frame of ``reference`` (default: their own)."""
    origin, axis = _frame(points if reference is None else reference)
    face = (_complex(points) - origin) / axis
    return np.stack([face.real, face.imag], axis=-1)


def from_face(shape: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Face-frame coordinates ``shape (n, 68, 2)`` back to the pixels of ``points``' frame."""
    origin, axis = _frame(points)
    z = origin + _complex(shape) * axis
    return np.stack([z.real, z.imag], axis=-1)


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
        shape = to_face(points)
        flat = shape.reshape(len(points), -1)
        # einsum, not @: BLAS's threads fight ONNX Runtime's spinning ones for the
        # cores (a CNN call of 256 faces took 37 ms longer with @, 2-6 ms with einsum).
        scores = np.einsum("ni,ki->nk", flat - self.mean, self.basis)
        miss = np.einsum("nk,kj->nj", scores, self.weights) + self.offset
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

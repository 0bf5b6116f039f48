"""How far a face's points can be trusted: the ``confidence`` and ``success`` of the outputs.

The network's face score saturates (0.99 on a turned face whose points lie on
a hand) and the mean heatmap peak alone ranks faces by their error only
weakly on its own. Two signals of
one face together do better, both from the points the network gave:

- ``peak``: the mean of its 68 point confidences (how sharp each heatmap's
  peak was, :func:`vidkeys.keypoints.predictor.point_confidence`);
- ``shape``: how far the 68 points are from a face's shape, once scale,
  rotation and position are taken out (Procrustes distance to the mean
  frontal shape of :data:`vidkeys.keypoints.pose.FACE_3D`): points on a hand, on hair
  or collapsed onto one side do not make a face.

``log(NME)`` is predicted from ``log(peak)`` and ``log(shape)`` by a line,
and a logistic curve of that prediction gives the chance that the face's
NME is at most :data:`USABLE_NME`: that chance is the confidence. Both are
fitted (``python -m vidkeys.training.fit_confidence``) on the held-out people
of youtube-faces-68 under each of real video's conditions
(:mod:`vidkeys.training.conditions`: rolled, small, blurred, dark, mouth
covered, JPEG), each condition weighing the same, their points placed as a
new face's are; the network never trained on them. Its rank correlation
with NME by condition is in ``saved_models/README.md``.

``success`` is ``confidence >= SUCCESS_THRESHOLD`` (0.5): the points are more
likely usable than not. A face with ``success`` 0 is tracked, but its points
should not be used (OpenFace's sense).
"""

from __future__ import annotations

import numpy as np

from vidkeys.keypoints.pose import FACE_3D

#: log(NME) ~ features(points, point_confidence) @ WEIGHTS.
WEIGHTS = np.array([-1.8834, 0.0871, -3.0871])
#: Predicted NME at confidence 0.5: as likely usable as not.
MID_NME = 0.0789
#: Width of the logistic curve in log-NME.
SCALE = 0.1494
#: Points within this NME (a fraction of the eye distance; twice the held-out
#: people's mean error) are usable: what the confidence is the chance of.
USABLE_NME = 0.08
#: Faces below this confidence are written with ``success`` 0.
SUCCESS_THRESHOLD = 0.5

_MEAN_SHAPE = FACE_3D[:, :2] - FACE_3D[:, :2].mean(axis=0)
_MEAN_SHAPE = _MEAN_SHAPE / np.linalg.norm(_MEAN_SHAPE)


def shape_distance(points: np.ndarray) -> np.ndarray:
    """Procrustes distance (0 = a face's shape) of each ``(68, 2)`` point set, ``(n,)``."""
    pts = np.asarray(points, np.float64)
    if pts.shape[0] == 0:
        return np.zeros(0)
    a = pts - pts.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(a, axis=(1, 2), keepdims=True)
    a = a / np.where(norm > 0, norm, 1.0)
    m = np.einsum("nki,kj->nij", a, _MEAN_SHAPE)
    s = np.linalg.svd(m, compute_uv=False)
    det = np.sign(np.linalg.det(m))
    return np.clip(1.0 - (s[:, 0] + det * s[:, 1]), 1e-6, 2.0)


def features(points: np.ndarray, point_confidence: np.ndarray) -> np.ndarray:
    """The signals of each face the confidence is made of, ``(n, 3)``: log mean peak,
    log shape distance, and 1 (the line's constant)."""
    pc = np.asarray(point_confidence, np.float64)
    if pc.shape[0] == 0:
        return np.zeros((0, len(WEIGHTS)))
    return np.column_stack(
        [np.log(pc.mean(axis=1) + 0.01), np.log(shape_distance(points)), np.ones(len(pc))]
    )


def predicted_nme(points: np.ndarray, point_confidence: np.ndarray) -> np.ndarray:
    """The NME (fraction of the eye distance) each face's signals predict, ``(n,)``."""
    return np.exp(features(points, point_confidence) @ WEIGHTS)


def landmark_confidence(points: np.ndarray, point_confidence: np.ndarray) -> np.ndarray:
    """Each face's confidence in (0, 1) that its points are right, ``(n,)`` (see module notes)."""
    nme = predicted_nme(points, point_confidence)
    if nme.size == 0:
        return nme
    z = (np.log(MID_NME) - np.log(nme)) / SCALE
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

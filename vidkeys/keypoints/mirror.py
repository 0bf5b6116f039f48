"""Mirror images of the 68-point layout: which point becomes which, and the labels' lean.

Training mirrors half its crops to double the faces it sees, and the served
network averages each crop with its mirror image; both need the same two
facts about the iBUG 68-point scheme and these labels.
"""

from __future__ import annotations

import numpy as np

#: Mirror image of each iBUG 68 point: left jaw <-> right jaw, left eye <-> right eye ...
FLIP_INDEX = np.array(
    list(range(16, -1, -1))  # jaw 0-16
    + list(range(26, 16, -1))  # brows 17-26
    + [27, 28, 29, 30]  # nose bridge
    + [35, 34, 33, 32, 31]  # nostrils
    + [45, 44, 43, 42, 47, 46]  # eye 36-41 <-> 42-47
    + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48]  # outer lip 48-54
    + [59, 58, 57, 56, 55]  # outer lip 55-59
    + [64, 63, 62, 61, 60]  # inner lip 60-64
    + [67, 66, 65]  # inner lip 65-67
)

#: How far the youtube-faces-68 labels sit towards the face's left (the
#: image's right on a frontal face) of where a mirror image of the face puts
#: them, as a share of the outer-eye-corner distance. The gap between a
#: no-mirror model's points on a crop and on its mirror image mapped back is
#: 4.8 % of the eye distance on the training people, the same on every part of
#: the face and in proportion to its size (1.3 px at 14-30 px between the eye
#: corners, 3.9 px above 70): the labels lean, the faces do not. Mirrored
#: crops teach the network the opposite lean unless it is taken out first:
#: trained so, the held-out NME was 5.08 % against 4.59 % without mirroring.
#: ``python -m vidkeys.training.label_shift`` measures it for a weights file.
LABEL_SHIFT = 0.048


def eye_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vector from outer eye corner 36 to 45, ``(..., 2)``, and their distance ``(..., 1)``."""
    axis = points[..., 45, :] - points[..., 36, :]
    dist = np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis / np.maximum(dist, 1e-9), dist


def flip_points(points: np.ndarray, width: int, shift: float = 0.0) -> np.ndarray:
    """Mirror points in an image ``width`` pixels wide, swapping left and right labels.

    ``shift`` (:data:`LABEL_SHIFT` for these labels) first moves the points
    back by that share of the eye distance along the face's eye axis, so the
    mirrored labels lean the same way as the originals do.
    """
    out = np.asarray(points, dtype=np.float64).copy()
    if shift:
        axis, dist = eye_axes(out)
        out -= (shift * axis * dist)[..., None, :]
    out[..., 0] = width - 1 - out[..., 0]
    return out[..., FLIP_INDEX, :]


def mirror_mean(direct: np.ndarray, mirrored: np.ndarray, width: int, shift: float) -> np.ndarray:
    """The mirror test's points: the mean of a crop's ``direct`` points ``(n, 68, 2)``
    and its mirror image's points ``mirrored`` (in the mirror's pixels), mapped
    back, labels swapped, and moved by the labels' lean ``shift`` along the eye
    axis of the direct points."""
    back = flip_points(mirrored, width)
    axis, dist = eye_axes(direct)
    back += (shift * axis * dist)[..., None, :]
    return (direct + back) / 2

"""Aligned faces: a face turned upright and scaled onto a fixed template, as
OpenFace's ``-simalign`` writes them for emotion and action-unit classifiers.

:func:`align` fits a similarity transform (rotation, one scale, shift) from a
face's 68 points to :func:`template` and warps the image by it::

    import vidkeys

    for frame in vidkeys.process("clip.mp4", keep_images=True):
        for face in frame.faces:
            aligned = vidkeys.align(frame.image, face.points)  # 112 x 112, BGR
            aligned.image, aligned.matrix, aligned.points

The template is OpenFace's rule on vidkeys' own mean face: the x, y of
:data:`vidkeys.keypoints.pose.FACE_3D` (the mean of 1,037 near-frontal faces,
in mm, its origin at the 68 points' centroid) at :data:`PIXELS_PER_MM` px a mm
for a 112 px image, the origin at the image's centre. OpenFace warps to its
own mean shape at 0.7 (``sim_scale``) into 112 px, so a face fills the image
as in OpenFace's aligned faces: the eye centres at (33.1, 29.0) and (78.9,
29.0), the chin at the bottom edge. Another ``size`` scales it all by
``size / 112``.

The fit is a weighted least-squares one (:func:`vidkeys.faces.crop.fit_similarity`)
on the points that move least with expression: the four eye corners carry
90 % of the weight, the nose (bridge, tip, nostrils) and the mouth corners
share the rest. The eyes are what must land the same way in every image: on
the real clips 96.7 % of the faces with ``success`` 1 have both eye centres
within 2 px of the template's at 112 px, against 18.5 % with the 15 points
weighted alike, where each person's nose and mouth pull the eyes off
(``benchmarks/bench_faces.py eyes``). The eyelids and lips take no part, so
a blink or an open mouth does not move the image.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from vidkeys.errors import VidkeysError
from vidkeys.faces.crop import apply_matrix, crop, fit_similarity
from vidkeys.keypoints.pose import FACE_3D

#: The side of an aligned image, px (OpenFace's ``-simsize``).
SIZE = 112
#: Smallest and largest side :func:`align` makes.
MIN_SIZE, MAX_SIZE = 16, 2048
#: Template pixels per mm of :data:`FACE_3D` at :data:`SIZE` (OpenFace's ``sim_scale``).
PIXELS_PER_MM = 0.7
#: The points the fit uses (iBUG numbering from 0): eye corners, nose, mouth corners.
EYE_CORNERS = (36, 39, 42, 45)
NOSE = (27, 28, 29, 30, 31, 32, 33, 34, 35)
MOUTH_CORNERS = (48, 54)
STABLE_POINTS = EYE_CORNERS + NOSE + MOUTH_CORNERS
#: Share of the fit's weight on the four eye corners (the other points share the rest).
EYE_WEIGHT = 0.9
_WEIGHTS = np.array(
    [EYE_WEIGHT / len(EYE_CORNERS)] * len(EYE_CORNERS)
    + [(1 - EYE_WEIGHT) / (len(NOSE) + len(MOUTH_CORNERS))] * (len(NOSE) + len(MOUTH_CORNERS))
)


class Aligned(NamedTuple):
    """One aligned face: ``image`` ``(size, size)`` or ``(size, size, 3)`` uint8
    (as the frame given), ``matrix`` the 2x3 transform from frame to aligned
    pixels, ``points`` ``(68, 2)`` the face's points in the aligned image."""

    image: np.ndarray
    matrix: np.ndarray
    points: np.ndarray


def check_size(size: int) -> int:
    """``size`` if :func:`align` makes images that big, else one clear error."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise VidkeysError(f"the aligned image size must be a whole number of px, got {size!r}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise VidkeysError(
            f"the aligned image size must be {MIN_SIZE}-{MAX_SIZE} px (--size), got {size}"
        )
    return int(size)


def template(size: int = SIZE) -> np.ndarray:
    """The 68 points ``(68, 2)`` every face is aligned to, in a ``size`` px image."""
    k = check_size(size) / SIZE
    return (FACE_3D[:, :2] * PIXELS_PER_MM + SIZE / 2) * k


def similarity(points: np.ndarray, size: int = SIZE) -> np.ndarray:
    """The 2x3 transform from frame pixels to the ``size`` px aligned image of a
    face with these 68 points (no image needed: points or boxes can be mapped)."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if pts.shape != (68, 2) or not np.isfinite(pts).all():
        raise VidkeysError(f"align takes 68 finite (x, y) points, got shape {np.shape(points)}")
    idx = list(STABLE_POINTS)
    return fit_similarity(pts[idx], template(size)[idx], _WEIGHTS)


def align(image: np.ndarray, points: np.ndarray, size: int = SIZE) -> Aligned:
    """The face with these 68 points in ``image`` (grey or BGR), aligned to the template.

    Outside the frame the edge pixels are repeated; a large face is shrunk by
    area averaging first, so it does not alias.
    """
    matrix = similarity(points, size)
    aligned = crop(np.asarray(image), matrix, size)
    return Aligned(aligned, matrix, apply_matrix(matrix, np.asarray(points, np.float64)))

"""Does a followed face still look like itself? A cheap check, every face, every frame.

A track follows a face by cropping where its points were, so when the person
there changes without a scene cut (a cut between similar shots, two people
swapping places, a slideshow on a plain background) the CNN places points on
the new face and the old id would carry on. Each frame, each face's look is
taken: a 24 x 24 grey crop cut by the crop rule from its own points, blurred
a little (points jitter), zero mean, unit length; its dot product with the
previous frame's look is 1 for the same picture. On the real clips of
``VIDKEYS_VIDEOS`` consecutive frames of one face score 0.94 or more in 99 %
of cases; two held-out people of ``youtube-faces-68`` score 0.12 (median),
0.52 (90th percentile); see ``TrackerConfig.min_likeness``. A look costs one
small warp (tens of microseconds).
"""

from __future__ import annotations

import cv2
import numpy as np

from vidkeys.faces.crop import box_from_points, crop, crop_matrix

#: Side of the crop a look is taken from, px.
LOOK_SIZE = 24


def looks(gray: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(n, LOOK_SIZE**2)`` looks of the faces with ``(n, 68, 2)`` points in ``gray``."""
    out = np.zeros((len(points), LOOK_SIZE * LOOK_SIZE), np.float32)
    for i, pts in enumerate(points):
        patch = crop(gray, crop_matrix(box_from_points(pts), LOOK_SIZE), LOOK_SIZE)
        x = cv2.GaussianBlur(patch.astype(np.float32), (0, 0), 1.0).ravel()
        x -= x.mean()
        out[i] = x / max(float(np.linalg.norm(x)), 1e-6)
    return out


def likeness(a: np.ndarray, b: np.ndarray) -> float:
    """How alike two looks are: 1 the same picture, about 0 unrelated ones."""
    return float(a @ b)

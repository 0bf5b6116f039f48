"""The crop rule shared by training and inference."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import draw_face, template_points
from vidkeys.faces.crop import (
    CROP_SIZE,
    apply_matrix,
    box_from_points,
    crop,
    crop_matrix,
    invert_matrix,
)


@pytest.mark.parametrize("angle", [0.0, 20.0, -30.0])
@pytest.mark.parametrize("face_px", [40, 400])
def test_round_trip_puts_points_back(angle: float, face_px: int) -> None:
    """crop -> locate each point in the crop -> map back lands within a pixel.

    The 400 px face takes the anti-aliased downscaling path, 40 px the direct one.
    """
    rng = np.random.default_rng(0)
    size = face_px * 3
    pts = template_points() * face_px / 2 + size / 2
    image = draw_face(pts, size, rng) if face_px < 100 else _big_face(pts, size)
    matrix = crop_matrix(box_from_points(pts), angle_deg=angle)
    patch = crop(image, matrix)
    in_crop = apply_matrix(matrix, pts)
    assert np.all((in_crop > 0) & (in_crop < CROP_SIZE))  # the rule keeps the whole face
    # Find each blob in the crop by its intensity centroid near the predicted spot.
    found = np.array([_centroid(patch, p) for p in in_crop])
    back = apply_matrix(invert_matrix(matrix), found)
    tolerance = max(1.0, face_px / CROP_SIZE * 1.2)  # about a crop pixel in frame pixels
    assert np.median(np.linalg.norm(back - pts, axis=1)) < tolerance


def _big_face(pts: np.ndarray, size: int) -> np.ndarray:
    import cv2

    img = np.full((size, size), 60, np.uint8)
    for x, y in pts:
        cv2.circle(img, (round(x), round(y)), 8, 220, -1)
    return img


def _centroid(patch: np.ndarray, p: np.ndarray, r: int = 2) -> np.ndarray:
    x0, y0 = np.clip(np.round(p).astype(int) - r, 0, CROP_SIZE - 1)
    win = patch[y0 : y0 + 2 * r + 1, x0 : x0 + 2 * r + 1].astype(float)
    win = np.clip(win - 100, 0, None)
    if win.sum() == 0:
        return p
    ys, xs = np.mgrid[: win.shape[0], : win.shape[1]]
    return np.array([(xs * win).sum() / win.sum() + x0, (ys * win).sum() / win.sum() + y0])


def test_box_from_points_is_square_and_above_the_points() -> None:
    pts = template_points() * 50 + 200
    x, y, w, h = box_from_points(pts)
    assert w == h
    assert x < pts[:, 0].min() and x + w > pts[:, 0].max()  # wider than the face
    assert y + h / 2 < pts[:, 1].mean()  # Haar boxes sit above the points' centre

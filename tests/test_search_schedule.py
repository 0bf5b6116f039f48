"""When the pipeline searches for faces: small faces in a new shot, and more small
faces where small faces already are (a class, a crowd), found within frames."""

from __future__ import annotations

import cv2
import numpy as np

import vidkeys
from tests.helpers import PHOTO

#: The sample photo shrunk so the face's detector box is about 20 px wide.
SMALL = 0.23
#: ... and so it is about 150 px wide.
LARGE = 1.6


def scene(size: tuple[int, int], faces: list[tuple[float, int, int]], grey: int) -> np.ndarray:
    """A ``(w, h)`` BGR frame of mild noise with the photo pasted at ``(scale, x, y)``."""
    w, h = size
    rng = np.random.default_rng(grey)  # the same noise every frame: a still camera
    image = np.clip(rng.normal(grey, 6, (h, w, 3)), 0, 255).astype(np.uint8)
    photo = cv2.imread(str(PHOTO))
    for scale, x, y in faces:
        face = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        image[y : y + face.shape[0], x : x + face.shape[1]] = face
    return image


def rows_near(result: vidkeys.FrameResult, x: int, y: int, scale: float) -> int:
    """Faces of a frame whose box centre lies on the photo pasted at ``(x, y)``."""
    side = 512 * scale
    centres = result.faces.boxes[:, :2] + result.faces.boxes[:, 2:4] / 2
    inside = (
        (centres[:, 0] > x)
        & (centres[:, 0] < x + side)
        & (centres[:, 1] > y)
        & (centres[:, 1] < y + side)
    )
    return int(inside.sum())


def test_a_20px_face_is_found_on_the_first_frame_and_on_a_new_shots_first_frame() -> None:
    first = scene((640, 360), [(SMALL, 100, 150)], 80)
    large = scene((640, 360), [(0.6, 200, 20)], 140)
    frames = [first] * 4 + [large] * 6 + [first] * 4
    results = list(vidkeys.process(frames))
    assert rows_near(results[0], 100, 150, SMALL) == 1
    assert rows_near(results[10], 100, 150, SMALL) == 1  # the cut back to the first shot


def test_a_small_face_beside_small_faces_gets_a_row_within_ten_frames() -> None:
    """1080p, a large face followed all along, a 20 px face from the start; a second
    20 px face comes in beside it without a cut. The search cycle reaches each
    full-resolution tile only every 90 frames; the small face's surroundings
    are searched more often."""
    size = (1920, 1080)
    before = [(LARGE, 1000, 150), (SMALL, 300, 700)]
    after = [*before, (SMALL, 380, 690)]
    frames = [scene(size, before, 90)] * 15 + [scene(size, after, 90)] * 15
    results = list(vidkeys.process(frames))
    assert rows_near(results[0], 300, 700, SMALL) == 1
    first = next((r.index for r in results[15:] if rows_near(r, 380, 690, SMALL)), None)
    assert first is not None and first - 15 <= 10, f"first row at frame {first}"
    assert all(len(r.faces) >= 2 for r in results)

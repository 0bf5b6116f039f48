"""The shipped model under real video's conditions: a face rolled far, a covered mouth."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import vidkeys
from tests.helpers import ASTRONAUT_REFERENCE, PHOTO, rolled_photo
from vidkeys.keypoints.confidence import SUCCESS_THRESHOLD


def _faces(image: np.ndarray) -> vidkeys.Faces:
    return next(iter(vidkeys.process([image]))).faces


@pytest.mark.parametrize("degrees", [45, -60])
def test_a_rolled_face_gets_its_points(degrees: int) -> None:
    """Rolled 45 or 60 degrees, the points land within a tenth of the eye distance
    of hand-placed ones, and are marked usable."""
    image, ref = rolled_photo(degrees)
    found = _faces(image)
    assert len(found) == 1
    points = found.points[0][list(ASTRONAUT_REFERENCE)]
    eyes = np.linalg.norm(ref[0] - ref[3])  # outer eye corners
    assert np.linalg.norm(points - ref, axis=1).mean() < 0.1 * eyes
    assert found.confidence[0] >= SUCCESS_THRESHOLD


def test_a_covered_mouth_lowers_the_confidence() -> None:
    """A dark bar over mouth and chin (a microphone, a hand): the same face, less sure."""
    image = cv2.imread(str(PHOTO))
    clear = _faces(image)
    p = clear.points[0]
    top = int(p[33, 1] + 0.3 * (p[51, 1] - p[33, 1]))
    bottom = int(np.ceil(p[8, 1] + 0.05 * np.ptp(p[:, 0])))
    covered = image.copy()
    covered[top:bottom, int(p[:, 0].min()) : int(np.ceil(p[:, 0].max()))] = 20
    hidden = _faces(covered)
    assert len(clear) == len(hidden) == 1
    # The confidence is the chance that the points are usable: covering the mouth
    # makes the chance that they are not several times larger.
    assert 1 - hidden.confidence[0] > 4 * (1 - clear.confidence[0])

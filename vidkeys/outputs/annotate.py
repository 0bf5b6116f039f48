"""Drawing keypoints, boxes, face ids and head-pose axes onto frames."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vidkeys.keypoints.pose import FACE_3D, camera_matrix, euler_to_matrix
from vidkeys.results import Faces

#: Head axes drawn from the nose tip, in model mm: the face's x (red, towards
#: the person's left), up (green) and forward, out of the face (blue).
AXES = FACE_3D[30] + np.array([[0, 0, 0], [60, 0, 0], [0, -60, 0], [0, 0, -60]], np.float64)
AXIS_COLOURS = [(0, 0, 255), (0, 200, 0), (255, 64, 0)]

# Distinct BGR colours, one per face id (cycled).
PALETTE = [(0, 255, 0), (255, 128, 0), (0, 128, 255), (255, 0, 255), (0, 255, 255), (255, 255, 0)]


@dataclass(frozen=True)
class Annotator:
    """Draws on a BGR frame in place; sizes scale with each face."""

    points: bool = True
    boxes: bool = False
    ids: bool = True
    pose: bool = False

    def __call__(self, image: np.ndarray, faces: Faces) -> np.ndarray:
        for i in range(len(faces)):
            colour = PALETTE[int(faces.face_id[i]) % len(PALETTE)]
            x, y, w, h = faces.boxes[i]
            radius = max(1, round(w / 80))
            if self.pose:
                self._axes(image, faces.rotation[i], faces.translation[i], radius + 1)
            if self.points:
                for px, py in faces.points[i]:
                    cv2.circle(image, (round(px), round(py)), radius, colour, -1, cv2.LINE_AA)
            if self.boxes:
                cv2.rectangle(
                    image,
                    (round(x), round(y)),
                    (round(x + w), round(y + h)),
                    colour,
                    max(1, radius),
                    cv2.LINE_AA,
                )
            if self.ids:
                cv2.putText(
                    image,
                    f"#{int(faces.face_id[i])}",
                    (round(x), round(y) - 4),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.4, w / 250),
                    colour,
                    max(1, radius),
                    cv2.LINE_AA,
                )
        return image

    @staticmethod
    def _axes(image: np.ndarray, rotation: np.ndarray, translation: np.ndarray, width: int) -> None:
        if np.isnan(rotation).any():
            return
        k = camera_matrix(image.shape[1], image.shape[0])
        rvec = cv2.Rodrigues(euler_to_matrix(rotation))[0]
        ends, _ = cv2.projectPoints(AXES, rvec, translation.astype(np.float64), k, None)
        origin, *tips = np.round(ends[:, 0]).astype(int)
        for tip, colour in zip(tips, AXIS_COLOURS, strict=True):
            cv2.arrowedLine(image, tuple(origin), tuple(tip), colour, width, cv2.LINE_AA, 0, 0.15)

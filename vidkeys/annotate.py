"""Drawing keypoints, boxes and face ids onto frames."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vidkeys.results import Faces

# Distinct BGR colours, one per face id (cycled).
PALETTE = [(0, 255, 0), (255, 128, 0), (0, 128, 255), (255, 0, 255), (0, 255, 255), (255, 255, 0)]


@dataclass(frozen=True)
class Annotator:
    """Draws on a BGR frame in place; sizes scale with each face."""

    points: bool = True
    boxes: bool = False
    ids: bool = True

    def __call__(self, image: np.ndarray, faces: Faces) -> np.ndarray:
        for i in range(len(faces)):
            colour = PALETTE[int(faces.face_id[i]) % len(PALETTE)]
            x, y, w, h = faces.boxes[i]
            radius = max(1, round(w / 80))
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

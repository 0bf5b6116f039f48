"""Face filters: an RGBA picture placed, scaled and rotated onto every face.

An overlay carries two anchor points in its own pixels; each face supplies
two target points from its keypoints, and the similarity transform (scale,
rotation, shift) taking anchors to targets puts the picture on the face.
Rotation always follows the eye line, the steadiest direction on a face, and
the points are the tracks' smoothed ones, so the overlay does not jitter.

Where an overlay goes (``place``):

* ``eyes``: anchors onto the two eye centres;
* ``mouth``: onto the mouth's width, shifted up to between nose and upper
  lip (a moustache);
* ``head``: onto a line 1.45 face widths long, half an eye distance above the
  brows (a hat's brim).

A user's own PNG needs an alpha channel; its anchors are fixed by ``place``:
for ``eyes`` and ``mouth`` the points a quarter and three quarters across its
middle row (so the picture is twice as wide as the eye or mouth span), for
``head`` the two ends of its bottom row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vidkeys.errors import VidkeysError
from vidkeys.outputs.artwork import BUILTINS
from vidkeys.results import Faces

PLACES = ("eyes", "mouth", "head")


@dataclass(frozen=True)
class Overlay:
    """A picture ready to paste: premultiplied BGRA, anchors, and where it goes.

    ``pyramid`` holds the picture halved again and again (made once here):
    a face far smaller than the picture is drawn from the level just above
    its size, so no frame pays for shrinking the full picture.
    """

    name: str
    image: np.ndarray
    anchors: np.ndarray
    place: str
    pyramid: tuple[np.ndarray, ...] = field(init=False)

    def __post_init__(self) -> None:
        levels = [self.image]
        while min(levels[-1].shape[:2]) >= 8:
            h, w = levels[-1].shape[:2]
            levels.append(cv2.resize(levels[-1], (w // 2, h // 2), interpolation=cv2.INTER_AREA))
        object.__setattr__(self, "pyramid", tuple(levels))


def _premultiply(bgra: np.ndarray) -> np.ndarray:
    """Colour times alpha: interpolating it while warping gives no dark fringes."""
    alpha = bgra[..., 3:].astype(np.float32) / 255.0
    rgb = bgra[..., :3].astype(np.float32) * alpha
    return np.concatenate([rgb, alpha * 255.0], axis=2).round().astype(np.uint8)


def _file_anchors(width: int, height: int, place: str) -> np.ndarray:
    if place == "head":
        return np.array([[0.0, height], [float(width), height]])
    return np.array([[width / 4, height / 2], [3 * width / 4, height / 2]])


def load_overlay(spec: str, place: str | None = None) -> Overlay:
    """A built-in overlay by name, or an RGBA image file; ``place`` overrides where it goes."""
    if place is not None and place not in PLACES:
        raise VidkeysError(f"unknown place {place!r}: use {', '.join(PLACES)}")
    if spec in BUILTINS:
        draw, default_place = BUILTINS[spec]
        image, anchors = draw()
        return Overlay(spec, _premultiply(image), anchors, place or default_place)
    path = Path(spec)
    if not path.is_file():
        names = ", ".join(BUILTINS)
        raise VidkeysError(f"overlay not found: {spec} (built-in overlays: {names})")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise VidkeysError(f"{path}: not an image OpenCV can read")
    if image.ndim != 3 or image.shape[2] != 4:
        raise VidkeysError(f"{path}: no alpha channel; save it as a PNG with transparency")
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    place = place or "eyes"
    h, w = image.shape[:2]
    return Overlay(path.stem, _premultiply(image), _file_anchors(w, h, place), place)


def targets(points: np.ndarray, place: str) -> np.ndarray:
    """The two frame points a face offers for ``place``; ``points`` is ``(68, 2)``."""
    right_eye = points[36:42].mean(0)
    left_eye = points[42:48].mean(0)
    if place == "eyes":
        return np.stack([right_eye, left_eye])
    span = left_eye - right_eye
    eye_dist = float(np.linalg.norm(span))
    along = span / max(eye_dist, 1e-6)
    up = np.array([along[1], -along[0]])  # image y points down
    if place == "mouth":
        centre = (points[33] + points[51]) / 2
        half = np.linalg.norm(points[54] - points[48]) / 2
    else:
        centre = points[17:27].mean(0) + up * 0.5 * eye_dist
        half = 1.45 * np.linalg.norm(points[16] - points[0]) / 2
    return np.stack([centre - along * half, centre + along * half])


def paste(frame: np.ndarray, overlay: Overlay, dst: np.ndarray) -> None:
    """Blend ``overlay`` into ``frame`` (BGR, in place) with its anchors on ``dst``."""
    src = overlay.anchors
    image = overlay.image
    zoom = complex(*(dst[1] - dst[0])) / complex(*(src[1] - src[0]))
    scale = abs(zoom)
    if scale < 1e-3:
        return
    if scale < 1.0:  # start from a pre-shrunk level: warping alone would alias
        level = min(int(np.log2(1.0 / scale)), len(overlay.pyramid) - 1)
        h, w = image.shape[:2]
        image = overlay.pyramid[level]
        src = src * [image.shape[1] / w, image.shape[0] / h]
        zoom = complex(*(dst[1] - dst[0])) / complex(*(src[1] - src[0]))
    a, b = zoom.real, zoom.imag
    shift = dst[0] - np.array([a * src[0][0] - b * src[0][1], b * src[0][0] + a * src[0][1]])
    m = np.array([[a, -b, shift[0]], [b, a, shift[1]]])
    h, w = image.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64) @ m[:, :2].T + m[:, 2]
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
    if x1 <= x0 or y1 <= y0:
        return  # entirely outside the frame
    m[:, 2] -= (x0, y0)
    warped = cv2.warpAffine(
        image, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    roi = frame[y0:y1, x0:x1]
    alpha = warped[..., 3:].astype(np.float32) / 255.0
    roi[:] = (roi * (1.0 - alpha) + warped[..., :3]).clip(0, 255).astype(np.uint8)


@dataclass(frozen=True)
class OverlayPainter:
    """Draws one overlay on every face of a frame (a drawer for ``annotate_file``)."""

    overlay: Overlay

    def __call__(self, image: np.ndarray, faces: Faces) -> np.ndarray:
        for points in faces.points:
            paste(image, self.overlay, targets(points, self.overlay.place))
        return image

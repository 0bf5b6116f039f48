"""Real video's conditions made on labelled images, the labels moved with the image.

The held-out people under each (``CONDITIONS``) are what
``benchmarks/bench_conditions.py`` measures and what the confidence is fitted
on (:mod:`vidkeys.training.fit_confidence`): rolled 15 / 30 / 45 degrees (canvas
grown and padded by replication, nothing cut), shrunk to a face about 40 px
wide, shrunk to a 24 or 40 px face placed in a 640x360 frame, horizontal
motion blur (kernel 12 % of the face width), dark (gamma 2.2, contrast x0.35,
Gaussian noise sigma 6), a dark bar over mouth and chin, JPEG quality 12.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from vidkeys.training.data import Sample

Condition = Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def face_width(points: np.ndarray) -> float:
    """The labelled points' width in pixels."""
    return float(np.ptp(points[:, 0]))


def roll(degrees: float) -> Condition:
    """The image turned in its plane, on a canvas grown to hold all of it."""

    def apply(image: np.ndarray, points: np.ndarray, rng: np.random.Generator):
        h, w = image.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        nw, nh = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
        m[:, 2] += ((nw - w) / 2, (nh - h) / 2)
        out = cv2.warpAffine(image, m, (nw, nh), borderMode=cv2.BORDER_REPLICATE)
        return out, points @ m[:, :2].T + m[:, 2]

    return apply


def small(image: np.ndarray, points: np.ndarray, rng: np.random.Generator):
    """Shrunk so the face (the points' width) is about 40 px."""
    k = min(1.0, 40.0 / face_width(points))
    out = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    return out, (points + 0.5) * k - 0.5


def in_frame(width: float) -> Condition:
    """Shrunk to a face ``width`` px wide, placed at random on a 640x360 frame (the
    image blurred and stretched around it): small faces in a video frame."""

    def apply(image: np.ndarray, points: np.ndarray, rng: np.random.Generator):
        k = min(1.0, width / face_width(points))
        small = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        frame = cv2.GaussianBlur(cv2.resize(image, (640, 360)), (0, 0), 12)
        x0 = int(rng.integers(0, 640 - small.shape[1] + 1))
        y0 = int(rng.integers(0, 360 - small.shape[0] + 1))
        frame[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
        return frame, (points + 0.5) * k - 0.5 + (x0, y0)

    return apply


def blur(image: np.ndarray, points: np.ndarray, rng: np.random.Generator):
    """Horizontal motion blur, kernel 12 % of the face width."""
    n = max(3, round(0.12 * face_width(points)))
    kernel = np.full((1, n), 1.0 / n, np.float32)
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REPLICATE), points


def dark(image: np.ndarray, points: np.ndarray, rng: np.random.Generator):
    """Gamma 2.2, contrast x0.35, sensor noise sigma 6 (grey levels)."""
    x = (image.astype(np.float64) / 255.0) ** 2.2 * 255.0 * 0.35
    x += rng.normal(0.0, 6.0, x.shape)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8), points


def mouth_covered(image: np.ndarray, points: np.ndarray, rng: np.random.Generator):
    """A dark bar over mouth and chin (a microphone, a hand)."""
    out = image.copy()
    x0, x1 = points[:, 0].min(), points[:, 0].max()
    top = points[33, 1] + 0.3 * (points[51, 1] - points[33, 1])
    bottom = points[8, 1] + 0.05 * face_width(points)
    out[max(0, int(top)) : int(np.ceil(bottom)), max(0, int(x0)) : int(np.ceil(x1))] = 20
    return out, points


def jpeg(image: np.ndarray, points: np.ndarray, rng: np.random.Generator):
    """JPEG at quality 12."""
    _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 12])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED), points


def upright(image: np.ndarray, points: np.ndarray, rng: np.random.Generator):
    """The image as it is."""
    return image, points


CONDITIONS: dict[str, Condition] = {
    "upright": upright,
    "roll 15": roll(15),
    "roll 30": roll(30),
    "roll 45": roll(45),
    "40 px": small,
    "24 px in 640x360": in_frame(24),
    "40 px in 640x360": in_frame(40),
    "blur": blur,
    "dark": dark,
    "mouth covered": mouth_covered,
    "jpeg 12": jpeg,
}


def apply(
    condition: Condition,
    images: list[np.ndarray],
    samples: list[Sample],
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], list[Sample]]:
    """Every image under ``condition``, and its sample with the labels moved along."""
    changed = [condition(im, s.points, rng) for im, s in zip(images, samples, strict=True)]
    moved = [Sample(s.name, p) for s, (_, p) in zip(samples, changed, strict=True)]
    return [im for im, _ in changed], moved

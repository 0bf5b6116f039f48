"""Training crops: the inference crop rule plus random jitter and photometric noise."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vidkeys.faces.crop import CROP_SIZE, apply_matrix, crop, crop_matrix
from vidkeys.keypoints.mirror import LABEL_SHIFT, flip_points


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random perturbations (the defaults trained the shipped model)."""

    max_rotation: float = 30.0
    scale_sigma: float = 0.08
    max_shift: float = 0.08
    flip: bool = True
    #: Label shift removed from mirrored crops (0 mirrors the labels as they are).
    flip_shift: float = LABEL_SHIFT
    brightness: float = 40.0
    contrast: tuple[float, float] = (0.6, 1.4)
    blur_prob: float = 0.3
    noise_max: float = 8.0
    negative_prob: float = 0.1
    #: Share of crops with a random grey rectangle (10-40 % of the crop a
    #: side) over them: a hand, a microphone, hair. The points under it stay
    #: labelled, so the network learns to place them from the rest of the face.
    occlude_prob: float = 0.0


def training_crop(
    image: np.ndarray,
    points: np.ndarray,
    box: np.ndarray,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    size: int = CROP_SIZE,
) -> tuple[np.ndarray, np.ndarray, float]:
    """One augmented crop: ``(uint8 crop, points in crop pixels, face label)``.

    A small share of crops are negatives (label 0), cut well off the face, so
    the network learns a face score the tracker can use to drop lost faces.
    """
    label = 1.0
    shift = rng.uniform(-cfg.max_shift, cfg.max_shift, size=2)
    scale = float(np.exp(rng.normal(0.0, cfg.scale_sigma)))
    if rng.random() < 0.5:
        angle = rng.uniform(-cfg.max_rotation, cfg.max_rotation)
    else:
        angle = rng.normal(0.0, cfg.max_rotation / 6)
    if rng.random() < cfg.negative_prob:
        label = 0.0
        direction = rng.uniform(0, 2 * np.pi)
        shift = rng.uniform(0.8, 1.5) * np.array([np.cos(direction), np.sin(direction)])
        scale *= float(np.exp(rng.uniform(-0.7, 0.7)))
    matrix = crop_matrix(box, size, scale=scale, shift=(shift[0], shift[1]), angle_deg=angle)
    patch = crop(image, matrix, size)
    pts = apply_matrix(matrix, points)
    if cfg.flip and rng.random() < 0.5:
        patch = patch[:, ::-1]
        pts = flip_points(pts, size, cfg.flip_shift)
    if rng.random() < cfg.occlude_prob:
        patch = occlude(patch, rng)
    return photometric(patch, rng, cfg), pts.astype(np.float32), label


def occlude(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The crop with one rectangle of flat grey plus noise somewhere over it."""
    size = patch.shape[0]
    w, h = (rng.uniform(0.1, 0.4, 2) * size).astype(int)
    x, y = rng.integers(0, size - w), rng.integers(0, size - h)
    out = patch.copy()
    fill = rng.uniform(0, 255) + rng.normal(0, 10, (h, w))
    out[y : y + h, x : x + w] = np.clip(fill, 0, 255).astype(np.uint8)
    return out


def photometric(patch: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Random brightness, contrast, blur and sensor noise on a uint8 crop."""
    out = patch.astype(np.float32)
    if rng.random() < cfg.blur_prob:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    mean = out.mean()
    out = (out - mean) * rng.uniform(*cfg.contrast) + mean
    out += rng.uniform(-cfg.brightness, cfg.brightness)
    out += rng.normal(0.0, rng.uniform(0, cfg.noise_max), out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)

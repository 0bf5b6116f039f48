"""Training crops: the run-time crop rule on randomly rolled faces, plus what real video does.

A crop is cut as vidkeys cuts one at run time (:func:`vidkeys.faces.crop.crop_box_from_points`:
upright, scaled from the points), from the labels of a face first turned in the
image plane by up to :attr:`AugmentConfig.max_roll`, with box noise like the
detector's; so the network learns from the crops it will be given, whatever the
face's roll. Then, each on a share of the crops: a smaller face, motion blur, a
bar over mouth and chin or over the eyes, a dark noisy frame, heavy JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vidkeys.faces.crop import (
    CROP_SIZE,
    ROLL_KEPT,
    apply_matrix,
    crop,
    crop_box_from_points,
    crop_matrix,
    roll_degrees,
)
from vidkeys.keypoints.mirror import LABEL_SHIFT, flip_points


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random perturbations (the defaults trained the shipped model)."""

    #: The face's roll in the image before the crop rule turns it upright (uniform,
    #: degrees): a crop keeps at most ``ROLL_KEPT`` of it, whatever it was.
    max_roll: float = 60.0
    #: Crop-box noise of a new face's first crop, zero-mean Gaussian: centre across
    #: and down the face in box widths, log of the size, roll in degrees. What
    #: YuNet's five points give against the labels' box on the training people
    #: (``python -m vidkeys.training.box_noise``): wide across the face, since
    #: the five points follow the nose of a turned head.
    detector_noise: tuple[float, float, float, float] = (0.10, 0.03, 0.075, 5.5)
    #: Share of crops cut as a followed face's, from its previous points: the same
    #: noise times :attr:`followed_noise`, and the whole roll seen.
    followed_prob: float = 0.5
    followed_noise: float = 0.3
    #: A new face's roll as its five points see it, a share of the true roll drawn
    #: from this range: YuNet's points see a median 0.54-0.58 of a 30-45 degree
    #: roll, a tenth of the faces under 0.1 (``python -m vidkeys.training.box_noise``),
    #: so a rolled face's first crop keeps much of its roll.
    roll_seen: tuple[float, float] = (0.0, 1.0)
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
    #: Shares of crops under each condition of real video (independent draws).
    small_prob: float = 0.15
    motion_prob: float = 0.15
    cover_prob: float = 0.2
    dark_prob: float = 0.15
    jpeg_prob: float = 0.15


def rotation_about(degrees: float, about: np.ndarray) -> np.ndarray:
    """The 3x3 matrix turning image pixels by ``degrees`` about the point ``about``."""
    a = np.deg2rad(degrees)
    cos, sin = np.cos(a), np.sin(a)
    cx, cy = about
    return np.array(
        [[cos, -sin, cx - cos * cx + sin * cy], [sin, cos, cy - sin * cx - cos * cy], [0, 0, 1]]
    )


def training_crop(
    image: np.ndarray,
    points: np.ndarray,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    size: int = CROP_SIZE,
) -> tuple[np.ndarray, np.ndarray, float]:
    """One augmented crop: ``(uint8 crop, points in crop pixels, face label)``.

    The face is turned by a random roll (edges replicated, nothing cut), its
    crop box made from the turned labels by the run-time rule and shaken by
    detector-like noise. A small share of crops are negatives (label 0), cut
    well off the face, so the network learns a face score the tracker can use
    to drop lost faces.
    """
    pts = np.asarray(points, np.float64)
    turn = rotation_about(rng.uniform(-cfg.max_roll, cfg.max_roll), pts.mean(axis=0))
    turned = apply_matrix(turn[:2], pts)
    box = crop_box_from_points(turned)
    sigma = np.array(cfg.detector_noise)
    if rng.random() < cfg.followed_prob:
        sigma = sigma * cfg.followed_noise
    else:  # a new face: its crop turned by the roll its five points see
        seen = roll_degrees(turned) * rng.uniform(*cfg.roll_seen)
        box[4] = np.sign(seen) * max(0.0, abs(seen) - ROLL_KEPT)
    noise = rng.normal(0.0, sigma)
    box[4] += noise[3]
    label = 1.0
    shift = noise[:2]
    scale = float(np.exp(noise[2]))
    if rng.random() < cfg.negative_prob:
        label = 0.0
        direction = rng.uniform(0, 2 * np.pi)
        shift = rng.uniform(0.8, 1.5) * np.array([np.cos(direction), np.sin(direction)])
        scale *= float(np.exp(rng.uniform(-0.7, 0.7)))
    matrix = crop_matrix(box, size, scale=scale, shift=(shift[0], shift[1])) @ turn
    patch = crop(image, matrix, size)
    pts = apply_matrix(matrix, pts)
    if cfg.flip and rng.random() < 0.5:
        patch = np.ascontiguousarray(patch[:, ::-1])
        pts = flip_points(pts, size, cfg.flip_shift)
    return conditions(patch, pts, rng, cfg), pts.astype(np.float32), label


def conditions(
    patch: np.ndarray, pts: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig
) -> np.ndarray:
    """The crop under a random mix of real video's conditions and photometric noise."""
    width = float(np.ptp(pts[:, 0]))
    if rng.random() < cfg.small_prob:
        patch = smaller(patch, width, rng.uniform(14.0, 40.0))
    if rng.random() < cfg.motion_prob:
        patch = motion_blur(patch, width * rng.uniform(0.04, 0.16), rng)
    if rng.random() < cfg.cover_prob:
        patch = cover(patch, pts, rng)
    if rng.random() < cfg.occlude_prob:
        patch = occlude(patch, rng)
    patch = dark(patch, rng) if rng.random() < cfg.dark_prob else photometric(patch, rng, cfg)
    if rng.random() < cfg.jpeg_prob:
        patch = jpeg(patch, int(rng.integers(5, 36)))
    return patch


def smaller(patch: np.ndarray, face_width: float, target: float) -> np.ndarray:
    """The crop as it looks when its face is only ``target`` px wide in the frame."""
    k = target / max(face_width, 1.0)
    if k >= 1.0:
        return patch
    side = patch.shape[0]
    little = cv2.resize(patch, (max(2, round(side * k)),) * 2, interpolation=cv2.INTER_AREA)
    return cv2.resize(little, (side, side), interpolation=cv2.INTER_LINEAR)


def motion_blur(patch: np.ndarray, length: float, rng: np.random.Generator) -> np.ndarray:
    """A straight motion blur ``length`` px long, mostly sideways (heads turn and sway)."""
    n = max(3, round(length) | 1)
    kernel = np.zeros((n, n), np.float32)
    kernel[n // 2] = 1.0 / n
    angle = rng.normal(0.0, 20.0) if rng.random() < 0.7 else rng.uniform(0, 180)
    turn = cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), angle, 1.0)
    kernel = cv2.warpAffine(kernel, turn, (n, n))
    kernel /= max(kernel.sum(), 1e-6)
    return cv2.filter2D(patch, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def cover(patch: np.ndarray, pts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bar over mouth and chin (a microphone, a hand, a mask) or over the eyes
    (sunglasses), dark or grey, with ragged extent; the points under it stay labelled."""
    eye = float(np.linalg.norm(pts[45] - pts[36]))
    x0, x1 = pts[:, 0].min(), pts[:, 0].max()
    if rng.random() < 0.65:  # mouth and chin
        top = pts[33, 1] + rng.uniform(-0.1, 0.4) * eye
        bottom = pts[:, 1].max() + rng.uniform(0.0, 0.5) * eye
    else:  # eyes
        centre = pts[36:48, 1].mean()
        top = centre - rng.uniform(0.2, 0.45) * eye
        bottom = centre + rng.uniform(0.15, 0.4) * eye
    left = x0 - rng.uniform(-0.1, 0.4) * eye
    right = x1 + rng.uniform(-0.1, 0.4) * eye
    h, w = patch.shape
    ys = slice(int(np.clip(top, 0, h)), int(np.clip(bottom, 0, h)))
    xs = slice(int(np.clip(left, 0, w)), int(np.clip(right, 0, w)))
    out = patch.copy()
    region = out[ys, xs]
    fill = (rng.uniform(0, 60) if rng.random() < 0.7 else rng.uniform(60, 230)) + rng.normal(
        0, rng.uniform(2, 12), region.shape
    )
    out[ys, xs] = np.clip(fill, 0, 255).astype(np.uint8)
    return out


def occlude(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The crop with one rectangle of flat grey plus noise somewhere over it."""
    size = patch.shape[0]
    w, h = (rng.uniform(0.1, 0.4, 2) * size).astype(int)
    x, y = rng.integers(0, size - w), rng.integers(0, size - h)
    out = patch.copy()
    fill = rng.uniform(0, 255) + rng.normal(0, 10, (h, w))
    out[y : y + h, x : x + w] = np.clip(fill, 0, 255).astype(np.uint8)
    return out


def dark(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An underexposed frame: gamma, low contrast, then a sensor's noise on top."""
    out = 255.0 * (patch.astype(np.float32) / 255.0) ** rng.uniform(1.6, 2.8)
    mean = out.mean()
    out = (out - mean) * rng.uniform(0.25, 0.6) + mean
    out += rng.normal(0.0, rng.uniform(3.0, 10.0), out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def jpeg(patch: np.ndarray, quality: int) -> np.ndarray:
    """The crop through a JPEG encoder at ``quality`` (blocks and ringing)."""
    ok, buf = cv2.imencode(".jpg", patch, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else patch


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

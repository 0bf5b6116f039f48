"""The crop rule: face box -> square, upright crop the CNN sees, and back.

Training and inference must cut faces the same way or the model sees crops at
run time that it never saw while learning. Every crop in vidkeys therefore goes
through :func:`crop_matrix`, and every box that does not come from the Haar
detector (training images Haar misses, faces followed between detections) comes
from :func:`box_from_points`, which mimics Haar's box geometry.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vidkeys.keypoints.pose import FACE_3D

#: Side of the square crop the CNN takes, in pixels.
CROP_SIZE = 96
#: Crop side as a multiple of the Haar box width. Haar's box is tight around
#: brows-to-mouth; the jaw and chin fall below it, so the crop is larger.
CROP_SCALE = 1.6
#: Crop centre below the Haar box centre, as a fraction of the box width.
#: Measured on youtube-faces-68: the 68 points' centre sits 0.157 w lower.
CROP_SHIFT_Y = 0.15
#: Haar box width over the width of the 68 points' bounding box (median).
BOX_OVER_POINTS_WIDTH = 1.15
#: Haar box centre above the points' bounding-box centre, in box widths.
BOX_ABOVE_POINTS = 0.157


def box_from_points(points: np.ndarray) -> np.ndarray:
    """Return the ``(x, y, w, h)`` box Haar would likely give for these 68 points.

    Used where no detection exists: training images Haar misses, and frames
    between detections where a face is followed from its previous points.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    w = BOX_OVER_POINTS_WIDTH * max(x1 - x0, y1 - y0, 1.0)
    cx = (x0 + x1) / 2
    cy = (y0 + y1) / 2 - BOX_ABOVE_POINTS * w
    return np.array([cx - w / 2, cy - w / 2, w, w])


#: Where YuNet's five points (right eye, left eye, nose tip, right and left
#: mouth corner) sit on the mean face of :data:`vidkeys.keypoints.pose.FACE_3D` (mm,
#: the same frame as its x, y). Remade by ``python -m vidkeys.training.yunet_points``.
YUNET_POINTS = np.array([[-30.8, -40.7], [30.8, -40.7], [0.0, -4.6], [-25.7, 24.7], [25.7, 24.7]])


#: Roll (degrees) a crop leaves in; see :func:`crop_box_from_points`.
ROLL_KEPT = 10.0


def roll_degrees(points: np.ndarray) -> float:
    """How far a face is turned in the image plane: the angle of the line from the
    image-left eye to the image-right eye, degrees, clockwise positive (y down).

    ``points`` are the 68 points (eye centres from 36-41 and 42-47) or YuNet's
    five (the first two are the eyes).
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if len(pts) == 5:
        left, right = pts[0], pts[1]
    else:
        left, right = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
    dx, dy = right - left
    return float(np.degrees(np.arctan2(dy, dx))) if dx or dy else 0.0


def _turn(points: np.ndarray, degrees: float, about: np.ndarray) -> np.ndarray:
    a = np.deg2rad(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (points - about) @ rot.T + about


def crop_box_from_points(points: np.ndarray) -> np.ndarray:
    """The crop box ``(x, y, w, h, roll)`` of a face with these 68 points: upright.

    The points are turned upright about their mean (``roll``, see
    :func:`roll_degrees`), boxed as Haar would box them
    (:func:`box_from_points`), and the box's centre turned back: ``(x, y, w,
    h)`` is that box, centred where the face is, and ``roll`` tells
    :func:`crop_matrix` to turn the crop with the face, so a rolled face
    reaches the network upright, as the faces it learnt from. An upright face
    (roll 0) gets exactly :func:`box_from_points`' box.
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    roll = roll_degrees(pts)
    # A small roll is left in (turning every crop by the eye line's noise costs
    # accuracy), a larger one taken out down to that much; continuous, so no
    # crop jumps. Training cuts its crops by this same rule.
    roll = float(np.sign(roll) * max(0.0, abs(roll) - ROLL_KEPT))
    about = pts.mean(axis=0)
    x, y, w, h = box_from_points(_turn(pts, -roll, about))
    cx, cy = _turn(np.array([x + w / 2, y + h / 2]), roll, about)
    return np.array([cx - w / 2, cy - h / 2, w, h, roll])


def box_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """The crop box (:func:`crop_box_from_points`) of a face known by YuNet's five points.

    The mean face is moved onto the five points (a similarity transform:
    position, size, roll) and boxed as its 68 points would be, so a new
    face's first crop is cut as every later one is.
    """
    matrix = fit_similarity(YUNET_POINTS, np.asarray(landmarks, np.float64).reshape(5, 2))
    shape = apply_matrix(matrix, FACE_3D[:, :2])
    return crop_box_from_points(shape)


def fit_similarity(
    src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """The 2x3 similarity (rotation, one scale, shift; never a mirror image) that
    maps ``src`` points onto ``dst`` points with the least weighted squared error.

    Umeyama's solution, in its 2D closed form (points as complex numbers,
    ``dst ~ z src + t``): exact, the same answer every time (a sampling fit
    such as RANSAC has nothing to reject among a face's own points), and a
    few sums instead of an SVD.
    """
    src = np.asarray(src, np.float64).reshape(-1, 2)
    dst = np.asarray(dst, np.float64).reshape(-1, 2)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    ms, md = w @ src, w @ dst
    a, b = src - ms, dst - md
    var = w @ (a * a).sum(axis=1)
    cos = w @ (a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1]) / var
    sin = w @ (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]) / var
    rot = np.array([[cos, -sin], [sin, cos]])  # scale times rotation
    return np.hstack([rot, (md - rot @ ms)[:, None]])


def crop_matrix(
    box: np.ndarray,
    size: int = CROP_SIZE,
    *,
    scale: float = 1.0,
    shift: tuple[float, float] = (0.0, 0.0),
    angle_deg: float = 0.0,
) -> np.ndarray:
    """Return the 2x3 affine matrix mapping frame pixels to crop pixels.

    ``box`` is ``(x, y, w, h)`` (an upright face) or a crop box ``(x, y, w, h,
    roll)`` (:func:`crop_box_from_points`): the crop then turns with the face,
    its centre moved down the face, not down the image. ``scale``, ``shift``
    (in box widths, along the face) and ``angle_deg`` perturb the crop;
    training uses them for jitter, inference leaves them at their defaults.
    """
    x, y, w, h = (float(v) for v in box[:4])
    roll = float(box[4]) if len(box) > 4 else 0.0
    r = np.deg2rad(roll)
    right, down = np.array([np.cos(r), np.sin(r)]), np.array([-np.sin(r), np.cos(r)])
    side = CROP_SCALE * w * scale
    cx, cy = np.array([x + w / 2, y + h / 2]) + w * (
        shift[0] * right + (CROP_SHIFT_Y + shift[1]) * down
    )
    k = size / side
    a = np.deg2rad(angle_deg + roll)
    cos, sin = np.cos(a) * k, np.sin(a) * k
    # Rotate by angle about the crop centre, scale to the crop, centre in it.
    return np.array(
        [
            [cos, sin, size / 2 - cos * cx - sin * cy],
            [-sin, cos, size / 2 + sin * cx - cos * cy],
        ]
    )


def crop(image: np.ndarray, matrix: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """Cut the crop of ``matrix`` out of a grey or colour image (edges replicated).

    A large face shrunk straight to the crop aliases (bilinear sampling skips
    pixels), so the face region is first reduced with area averaging; a face
    in a 1080p frame then looks like the small faces the CNN was trained on.
    """
    k = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if k < 0.5:
        # Shrink by a whole factor m first: OpenCV's area averaging is ~60x
        # faster for whole factors; the warp then scales by k*m in (0.5, 1].
        m = int(1.0 / k)
        inv = invert_matrix(matrix)
        corners = apply_matrix(inv, np.array([[0, 0], [size, 0], [0, size], [size, size]]))
        h, w = image.shape[:2]
        x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, [w - 1, h - 1])
        x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + m, 1, [w, h])
        rw, rh = (x1 - x0) // m, (y1 - y0) // m
        if rw >= 2 and rh >= 2:
            small = cv2.resize(
                image[y0 : y0 + rh * m, x0 : x0 + rw * m], (rw, rh), interpolation=cv2.INTER_AREA
            )
            # Pixel centres: small pixel u covers frame pixels x0 + [u, u+1) * m.
            ox, oy = x0 + 0.5 * m - 0.5, y0 + 0.5 * m - 0.5
            to_frame = np.array([[m, 0.0, ox], [0.0, m, oy], [0.0, 0.0, 1.0]])
            matrix = matrix @ to_frame
            image = small
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def apply_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map ``(..., 2)`` points through a 2x3 affine matrix."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def invert_matrix(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix: crop pixels back to frame pixels."""
    return cv2.invertAffineTransform(matrix)


def cut_faces(
    images: Sequence[np.ndarray], boxes: Sequence[np.ndarray], size: int = CROP_SIZE
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Crops ``(n, size, size)`` of box ``i`` in image ``i``, and their matrices.

    The one place inference (video frames, evaluation, validation during
    training) cuts faces; pass the same frame ``n`` times for faces of one frame.
    """
    mats = [crop_matrix(b, size) for b in boxes]
    if not mats:
        return np.zeros((0, size, size), np.uint8), mats
    return np.stack([crop(im, m, size) for im, m in zip(images, mats, strict=True)]), mats


def to_frame(points: np.ndarray, mats: Sequence[np.ndarray]) -> np.ndarray:
    """Map ``(n, 68, 2)`` crop points back to their frames' pixels."""
    if len(mats) == 0:
        return np.zeros((0, *np.shape(points)[1:]))
    return np.stack([apply_matrix(invert_matrix(m), p) for p, m in zip(points, mats, strict=True)])

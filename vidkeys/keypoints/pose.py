"""Head pose from the 68 points: rotation and translation of a generic 3D face.

The pose is the rigid motion that best maps :data:`FACE_3D`, an average face
in millimetres, onto the 2D points (``cv2.solvePnP``, SQPnP solver: global,
about 35 microseconds a face). Conventions are OpenFace's, so its readers
take our ``pose_*`` columns unchanged:

* camera coordinates: x to the image's right, y down, z away from the camera;
  ``pose_Tx, pose_Ty, pose_Tz`` is where the face's origin (the centroid of
  the 68 model points, near the nose bridge) sits, in mm;
* ``pose_Rx, pose_Ry, pose_Rz`` (radians) are pitch, yaw and roll with
  ``R = Rx(pitch) @ Ry(yaw) @ Rz(roll)`` mapping model to camera coordinates;
  all zero for a face looking straight into the camera, upright. Positive
  pitch: looking down; positive yaw: the face turned towards the image's left
  (the person's right); positive roll: the head tilted clockwise in the image.

The camera is unknown, so its focal length is guessed as OpenFace does:
``500 * (width / 640 + height / 480) / 2`` pixels, centre at the image centre.
Angles hardly depend on that guess; ``pose_Tz`` (distance) scales with it.
"""

from __future__ import annotations

import cv2
import numpy as np

#: The generic face, iBUG 68 order, mm, model axes as the camera's for a face
#: looking into it (x: image right, y: down, z: away). x and y are the mean of
#: 1,037 near-frontal faces of the training set (similarity-aligned, averaged
#: with their mirror images), scaled to 90 mm between the outer eye corners,
#: the adult average; z are depths set by hand per region from typical face
#: proportions (nose tip 38 mm in front of the outer eye corners, chin 22 mm
#: and the face outline at the ears 85 mm behind the nose tip). Remade by
#: ``python -m vidkeys.training.face_shape --csv FILE``.
FACE_3D = np.array(
    [
        # 0-16: jaw
        [-75.3, -36.7, 56.9],
        [-73.8, -17.1, 42.1],
        [-70.3, 1.0, 29.3],
        [-66.8, 18.3, 18.5],
        [-61.0, 37.4, 9.7],
        [-50.8, 53.4, 2.8],
        [-39.5, 64.0, -2.2],
        [-23.9, 73.3, -5.1],
        [0.0, 79.3, -6.1],
        [23.9, 73.3, -5.1],
        [39.5, 64.0, -2.2],
        [50.8, 53.4, 2.8],
        [61.0, 37.4, 9.7],
        [66.8, 18.3, 18.5],
        [70.3, 1.0, 29.3],
        [73.8, -17.1, 42.1],
        [75.3, -36.7, 56.9],
        # 17-26: brows
        [-59.3, -55.0, 16.9],
        [-50.1, -61.0, 4.9],
        [-38.7, -62.8, -1.1],
        [-28.3, -61.9, -4.1],
        [-19.1, -59.3, -5.1],
        [19.1, -59.3, -5.1],
        [28.3, -61.9, -4.1],
        [38.7, -62.8, -1.1],
        [50.1, -61.0, 4.9],
        [59.3, -55.0, 16.9],
        # 27-30: nose bridge
        [0.0, -38.0, -6.1],
        [0.0, -24.8, -13.1],
        [0.0, -12.3, -20.1],
        [0.0, -1.6, -28.1],
        # 31-35: nostrils
        [-12.6, 6.2, -12.1],
        [-7.2, 7.7, -17.1],
        [0.0, 9.2, -19.1],
        [7.2, 7.7, -17.1],
        [12.6, 6.2, -12.1],
        # 36-47: eyes
        [-45.0, -39.1, 9.9],
        [-37.6, -41.6, -0.1],
        [-28.5, -41.7, -2.1],
        [-20.0, -38.0, -1.1],
        [-27.8, -35.5, -1.1],
        [-37.5, -35.5, 0.9],
        [20.0, -38.0, -1.1],
        [28.5, -41.7, -2.1],
        [37.6, -41.6, -0.1],
        [45.0, -39.1, 9.9],
        [37.5, -35.5, 0.9],
        [27.8, -35.5, -1.1],
        # 48-59: outer lips
        [-26.3, 30.9, 1.9],
        [-17.3, 25.2, -8.1],
        [-5.9, 21.8, -14.1],
        [0.0, 23.0, -16.1],
        [5.9, 21.8, -14.1],
        [17.3, 25.2, -8.1],
        [26.3, 30.9, 1.9],
        [16.9, 38.7, -8.1],
        [8.8, 43.0, -13.1],
        [0.0, 43.9, -14.1],
        [-8.8, 43.0, -13.1],
        [-16.9, 38.7, -8.1],
        # 60-67: inner lips
        [-24.3, 30.6, -1.1],
        [-7.8, 28.5, -12.1],
        [0.0, 28.2, -14.1],
        [7.8, 28.5, -12.1],
        [24.3, 30.6, -1.1],
        [7.7, 34.1, -11.1],
        [0.0, 34.8, -13.1],
        [-7.7, 34.1, -11.1],
    ],
    dtype=np.float64,
)


def camera_matrix(width: int, height: int, focal: float | None = None) -> np.ndarray:
    """Pinhole intrinsics for a ``width`` x ``height`` frame (OpenFace's guess by default)."""
    f = focal if focal is not None else 500.0 * (width / 640.0 + height / 480.0) / 2.0
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """``R = Rx @ Ry @ Rz`` from ``(pitch, yaw, roll)`` in radians."""
    a, b, c = angles
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


def matrix_to_euler(r: np.ndarray) -> np.ndarray:
    """``(pitch, yaw, roll)`` of ``R = Rx @ Ry @ Rz`` (yaw in [-pi/2, pi/2])."""
    yaw = np.arcsin(np.clip(r[0, 2], -1.0, 1.0))
    pitch = np.arctan2(-r[1, 2], r[2, 2])
    roll = np.arctan2(-r[0, 1], r[0, 0])
    return np.array([pitch, yaw, roll])


def head_pose(
    points: np.ndarray, width: int, height: int, focal: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pose of each face: ``(rotation (n, 3) radians, translation (n, 3) mm)``.

    ``points`` are ``(n, 68, 2)`` pixel coordinates in a ``width`` x ``height``
    frame. A face the solver cannot place gets NaN.
    """
    k = camera_matrix(width, height, focal)
    n = len(points)
    rotation = np.full((n, 3), np.nan)
    translation = np.full((n, 3), np.nan)
    for i in range(n):
        pts = np.asarray(points[i], np.float64)
        if not np.isfinite(pts).all() or np.ptp(pts, axis=0).min() < 1e-6:
            continue  # degenerate points (a collapsed model): no pose, NaN as promised
        try:
            ok, rvec, tvec = cv2.solvePnP(FACE_3D, pts, k, None, flags=cv2.SOLVEPNP_SQPNP)
        except cv2.error:
            continue
        if ok:
            rotation[i] = matrix_to_euler(cv2.Rodrigues(rvec)[0])
            translation[i] = tvec.ravel()
    return rotation, translation

"""Head pose: OpenFace's conventions, exact recovery on the model, right signs on a real face."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from tests.helpers import PHOTO, SAMPLE, camera_path
from vidkeys.jobs import export_file
from vidkeys.keypoints.pose import (
    FACE_3D,
    camera_matrix,
    euler_to_matrix,
    head_pose,
    matrix_to_euler,
)
from vidkeys.outputs.annotate import Annotator
from vidkeys.outputs.export import COLUMNS, POSE_COLUMNS
from vidkeys.pipeline import process
from vidkeys.training.data import load_images, read_keypoints_csv
from vidkeys.training.face_shape import face_3d


def _project(angles: np.ndarray, t: np.ndarray, width: int = 640, height: int = 360) -> np.ndarray:
    cam = (FACE_3D @ euler_to_matrix(angles).T + t) @ camera_matrix(width, height).T
    return cam[:, :2] / cam[:, 2:]


def test_euler_angles_follow_openface() -> None:
    """OpenFace's RotationMatrix2Euler goes through a quaternion; same angles here."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        angles = rng.uniform(-1.2, 1.2, 3)
        r = euler_to_matrix(angles)
        q0 = np.sqrt(1 + r[0, 0] + r[1, 1] + r[2, 2]) / 2
        q1 = (r[2, 1] - r[1, 2]) / (4 * q0)
        q2 = (r[0, 2] - r[2, 0]) / (4 * q0)
        q3 = (r[1, 0] - r[0, 1]) / (4 * q0)
        yaw = np.arcsin(2 * (q0 * q2 + q1 * q3))
        pitch = np.arctan2(2 * (q0 * q1 - q2 * q3), q0**2 - q1**2 - q2**2 + q3**2)
        roll = np.arctan2(2 * (q0 * q3 - q1 * q2), q0**2 + q1**2 - q2**2 - q3**2)
        np.testing.assert_allclose(matrix_to_euler(r), [pitch, yaw, roll], atol=1e-9)
        np.testing.assert_allclose(matrix_to_euler(r), angles, atol=1e-9)


def test_known_rotations_are_recovered_within_two_degrees() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        angles = np.radians(rng.uniform([-30, -50, -40], [30, 50, 40]))
        t = np.array([rng.uniform(-80, 80), rng.uniform(-40, 40), rng.uniform(500, 1500)])
        points = _project(angles, t) + rng.normal(0, 0.3, (68, 2))
        rotation, translation = head_pose(points[None], 640, 360)
        assert np.degrees(np.abs(rotation[0] - angles)).max() < 2.0
        assert np.abs(translation[0] - t).max() < 0.05 * t[2]


def test_signs_as_documented() -> None:
    """Positive pitch looks down, positive yaw turns to the image's left."""
    t = np.array([0.0, 0.0, 800.0])
    straight = _project(np.zeros(3), t)
    down = _project(np.radians([20, 0, 0]), t)
    left = _project(np.radians([0, 20, 0]), t)
    assert down[30, 1] > straight[30, 1]  # the nose tip drops in the image
    assert left[30, 0] < straight[30, 0]  # and here moves to the image's left


def test_roll_follows_the_sample_camera(tmp_path: Path) -> None:
    """The camera rolls the photo +-15 degrees; the head's roll follows, same sign."""
    table = tmp_path / "a.csv"
    export_file(SAMPLE, table, quiet=True)
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:17] == COLUMNS[:17] and COLUMNS[5:11] == POSE_COLUMNS
    roll = np.degrees([float(r["pose_Rz"]) for r in rows])
    path = camera_path()
    camera = np.degrees(np.arctan2(path[:, 1, 0], path[:, 0, 0]))
    assert np.ptp(camera) > 25  # the path does roll
    change = roll - roll[0]
    assert np.abs(change - (camera - camera[0])).max() < 4.0
    assert 500 < float(rows[0]["pose_Tz"]) < 1500  # a head about a metre away, in mm


def _turned_photo(degrees: float) -> np.ndarray:
    """The photo as seen after turning it about a vertical axis through the face."""
    photo = cv2.imread(str(PHOTO))
    h, w = photo.shape[:2]
    f, depth, centre = 400.0, 800.0, np.array([224.0, 130.0])
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    plane = np.c_[(corners - centre) * depth / f, np.zeros(4)]
    seen = plane @ euler_to_matrix(np.radians([0, degrees, 0])).T + [0, 0, depth]
    image = seen[:, :2] / seen[:, 2:] * f + centre
    h_mat = cv2.getPerspectiveTransform(corners.astype(np.float32), image.astype(np.float32))
    return cv2.warpPerspective(photo, h_mat, (w, h))


def test_yaw_sign_on_a_turned_photo() -> None:
    yaw = {}
    for degrees in (-30, 0, 30):
        result = next(iter(process([_turned_photo(degrees)], device="cpu")))
        assert len(result.faces) == 1
        yaw[degrees] = np.degrees(result.faces.rotation[0, 1])
    assert yaw[-30] < yaw[0] - 2 < yaw[30] - 4, yaw


def test_pose_axes_are_drawn() -> None:
    photo = cv2.imread(str(PHOTO))
    result = next(iter(process([photo], device="cpu")))
    plain = Annotator(points=False, ids=False)(photo.copy(), result.faces)
    axes = Annotator(points=False, ids=False, pose=True)(photo.copy(), result.faces)
    assert np.array_equal(plain, photo)
    changed = np.abs(axes.astype(int) - photo.astype(int)).max(2) > 60
    ys, xs = np.nonzero(changed)
    nose = result.faces.points[0, 30]
    assert changed.sum() > 50 and np.hypot(xs - nose[0], ys - nose[1]).min() < 5


def test_yaw_sign_on_labelled_faces(real_data: Path) -> None:
    """On the data set's own labels: a nose left of the jaw's middle means positive yaw."""
    samples = read_keypoints_csv(real_data / "training_frames_keypoints.csv")[:600]
    images = load_images(samples, real_data / "training")
    agree = total = 0
    for sample, image in zip(samples, images, strict=True):
        p = sample.points
        offset = (p[30, 0] - (p[0, 0] + p[16, 0]) / 2) / np.linalg.norm(p[45] - p[36])
        if abs(offset) < 0.1:
            continue
        rotation, _ = head_pose(p[None], image.shape[1], image.shape[0])
        total += 1
        agree += np.sign(rotation[0, 1]) == -np.sign(offset)
    assert total > 100
    assert agree / total > 0.95


def test_face_model_is_reproducible_from_the_data(real_data: Path) -> None:
    """FACE_3D is what ``python -m vidkeys.training.face_shape`` makes from the data set."""
    samples = read_keypoints_csv(real_data / "training_frames_keypoints.csv")
    model = face_3d(np.stack([s.points for s in samples]))
    np.testing.assert_allclose(model, FACE_3D, atol=0.06)  # printed to 0.1 mm

"""The face detectors: YuNet (default) and Haar, the shipped YuNet graph, five points."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import vidkeys
from tests.helpers import ASTRONAUT_REFERENCE, PHOTO, one_error, rolled_photo, run_cli
from vidkeys.config import DetectorConfig
from vidkeys.errors import EXIT_ERROR, VidkeysError
from vidkeys.faces.crop import ROLL_KEPT, apply_matrix, crop_box_from_points, crop_matrix
from vidkeys.faces.detect import Detections
from vidkeys.faces.search import face_search
from vidkeys.faces.yunet import MODEL_SHA256, SHIPPED_MODEL, load_model
from vidkeys.keypoints.weights import DEFAULT_WEIGHTS


def _faces(image: np.ndarray, detector: str) -> vidkeys.Faces:
    return next(iter(vidkeys.process([image], detector=detector))).faces


def test_yunet_finds_a_rolled_face_that_haar_misses() -> None:
    image, ref = rolled_photo(30)
    found = _faces(image, "yunet")
    assert len(found) == 1
    points = found.points[0][list(ASTRONAUT_REFERENCE)]
    eyes = np.linalg.norm(ref[0] - ref[3])  # outer eye corners
    assert np.linalg.norm(points - ref, axis=1).mean() < 0.15 * eyes
    assert len(_faces(image, "haar")) == 0


def test_both_detectors_find_the_upright_face() -> None:
    image = cv2.imread(str(PHOTO))
    for detector in ("yunet", "haar"):
        found = _faces(image, detector)
        assert len(found) == 1, detector
        assert abs(found.points[0][30] - ASTRONAUT_REFERENCE[30]).max() < 8, detector


def test_yunet_gives_five_points_haar_none() -> None:
    gray = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2GRAY)
    yunet = face_search(DetectorConfig())(gray)
    assert len(yunet) == 1 and np.isfinite(yunet.landmarks).all()
    right_eye, left_eye, nose = yunet.landmarks[0][:3]
    assert right_eye[0] < nose[0] < left_eye[0]  # the person's right eye is on the image's left
    assert np.linalg.norm(nose - ASTRONAUT_REFERENCE[30]) < 8
    haar = face_search(DetectorConfig(detector="haar"))(gray)
    assert len(haar) >= 1 and np.isnan(haar.landmarks).all()


def test_a_new_face_is_first_cropped_as_its_points_would_crop_it() -> None:
    """The start box from YuNet's five points is close to the box of the face's own points."""
    image = cv2.imread(str(PHOTO))
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    start = face_search(DetectorConfig())(gray).start_boxes()[0]
    final = crop_box_from_points(_faces(image, "yunet").points[0])
    assert abs(start[2] / final[2] - 1) < 0.1
    centre = np.linalg.norm((start[:2] + start[2:4] / 2) - (final[:2] + final[2:4] / 2))
    assert centre < 0.1 * final[2]
    assert abs(start[4] - final[4]) < 3  # roll, degrees


def test_a_rolled_face_is_cropped_upright() -> None:
    """The crop cut from its points turns with it: the eyes (nearly) level in the crop.

    YuNet's five points see less roll than there is (-21 degrees of -40), so a
    new face's first crop is only partly turned; the crops from its points are
    (the second pass, and every later frame)."""
    for degrees in (0, 40):
        image, ref = rolled_photo(degrees)
        box = crop_box_from_points(_faces(image, "yunet").points[0])
        eyes = apply_matrix(crop_matrix(box), ref[[0, 3]])  # outer eye corners
        tilt = np.degrees(np.arctan2(*(eyes[1] - eyes[0])[::-1]))
        assert abs(tilt) <= ROLL_KEPT + 6, (degrees, tilt)  # of 40 in the frame


def test_detections_index_and_concat() -> None:
    a = Detections.from_boxes(np.array([[0, 0, 10, 10], [20, 0, 10, 10]], float))
    b = Detections.empty()
    both = Detections.concat([a, b, a[np.array([True, False])]])
    assert len(both) == 3 and both.boxes[2].tolist() == [0, 0, 10, 10]
    assert np.array_equal(both.start_boxes()[:, :4], both.boxes)  # no points: the detector's boxes
    assert not both.start_boxes()[:, 4].any()  # upright


def test_shipped_yunet_graph_matches_its_checksum_and_licence() -> None:
    assert SHIPPED_MODEL.parent == DEFAULT_WEIGHTS.parent
    assert hashlib.sha256(SHIPPED_MODEL.read_bytes()).hexdigest() == MODEL_SHA256
    licence = (SHIPPED_MODEL.parent / "LICENSE-yunet").read_text()
    assert "MIT License" in licence and "Shiqi Yu" in licence


def test_a_damaged_shipped_graph_is_refused(tmp_path: Path, monkeypatch) -> None:
    damaged = tmp_path / SHIPPED_MODEL.name
    data = bytearray(SHIPPED_MODEL.read_bytes())
    data[1000] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr("vidkeys.faces.yunet.SHIPPED_MODEL", damaged)
    with pytest.raises(VidkeysError, match="damaged"):
        load_model(None, 0.5)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ("empty",)),
        (b"not an onnx graph at all", ("not a YuNet",)),
        (None, ("not a YuNet",)),  # another model's graph: the keypoint network's
    ],
)
def test_a_bad_detector_model_is_one_error_line(tmp_path: Path, content, words) -> None:
    model = tmp_path / "detector.onnx"
    if content is None:
        shutil.copy(DEFAULT_WEIGHTS.with_suffix(".onnx"), model)
    else:
        model.write_bytes(content)
    out = tmp_path / "x.csv"
    proc = run_cli(["export-csv", PHOTO, "--detector-model", model, "-o", out, "-q"])
    assert proc.returncode == EXIT_ERROR
    one_error(proc.stderr, "detector.onnx", *words)
    assert not out.exists()


def test_an_unknown_detector_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli(["export-csv", PHOTO, "--detector", "mtcnn", "-o", tmp_path / "x.csv"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    with pytest.raises(VidkeysError, match="unknown detector"):
        face_search(DetectorConfig(detector="mtcnn"))


def test_haar_is_selectable_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    proc = run_cli(["export-csv", PHOTO, "--detector", "haar", "-o", out, "-q"])
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text().splitlines()) == 2  # header and the one face

"""Per-face and per-point confidence in the outputs, and how well it predicts the error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vidkeys.keypoints.confidence import SUCCESS_THRESHOLD, landmark_confidence, shape_distance
from vidkeys.keypoints.pose import FACE_3D
from vidkeys.outputs.export import KeypointSink
from vidkeys.results import Faces, FrameResult
from vidkeys.training.evaluate import spearman


def _faces() -> Faces:
    """Face 0: a face's shape with sharp peaks; face 1: scattered points with flat ones."""
    good = FACE_3D[:, :2] * 1.2 + [200.0, 150.0]
    bad = np.random.default_rng(0).uniform(100, 220, (68, 2))
    points = np.stack([good, bad])
    point_confidence = np.stack([np.full(68, 0.6), np.full(68, 0.05)])
    return Faces(
        face_id=np.array([3, 4]),
        boxes=np.array([[100.0, 100, 80, 80], [100, 100, 80, 80]]),
        points=points,
        confidence=landmark_confidence(points, point_confidence),  # as the pipeline fills it
        rotation=np.zeros((2, 3)),
        translation=np.zeros((2, 3)),
        point_confidence=point_confidence,
    )


def test_confidence_ranks_a_face_above_scattered_points() -> None:
    faces = _faces()
    assert shape_distance(faces.points[:1])[0] < 0.01
    conf = landmark_confidence(faces.points, faces.point_confidence)
    assert conf[0] >= SUCCESS_THRESHOLD > conf[1]
    assert landmark_confidence(np.zeros((0, 68, 2)), np.zeros((0, 68))).shape == (0,)


def test_success_and_point_confidence_in_csv_and_jsonl(tmp_path: Path) -> None:
    result = FrameResult(7, 0.25, _faces())
    csv_path, jsonl_path = tmp_path / "a.csv", tmp_path / "a.jsonl"
    sink = KeypointSink(csv_path, point_confidence=True)
    sink.write(result)
    sink.close()
    header, *rows = csv_path.read_text().splitlines()
    names = header.split(",")
    assert names[-68:] == [f"conf_{i}" for i in range(68)]
    values = [dict(zip(names, r.split(","), strict=True)) for r in rows]
    assert [v["success"] for v in values] == ["1", "0"]
    assert float(values[0]["conf_5"]) == pytest.approx(0.6)
    sink = KeypointSink(jsonl_path, fmt="jsonl")
    sink.write(result)
    sink.close()
    record = json.loads(jsonl_path.read_text())
    assert [f["success"] for f in record["faces"]] == [1, 0]
    assert len(record["faces"][0]["point_confidence"]) == 68


def test_spearman() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert spearman(a, a**3) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(np.array([1.0, 1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])) == (
        pytest.approx(0.9486833)
    )


def test_confidence_predicts_error_on_held_out_people(real_data: Path) -> None:
    from vidkeys.keypoints.predictor import KeypointPredictor
    from vidkeys.training.conditions import apply, mouth_covered
    from vidkeys.training.data import held_out_people
    from vidkeys.training.evaluate import evaluate, face_boxes, place_points
    from vidkeys.training.metrics import nme

    result = evaluate(
        real_data / "training_frames_keypoints.csv", real_data / "training", split="val"
    )
    assert result["conf_nme_spearman"] <= -0.5
    # Mouths covered: the faces marked unusable (success 0) err far more than the rest.
    samples, images = held_out_people(real_data, limit=150)
    rng = np.random.default_rng(0)
    ims, labels = apply(mouth_covered, images, samples, rng)
    boxes = face_boxes(ims, labels, "search")
    hit = [i for i, b in enumerate(boxes) if b is not None]
    points, _, point_conf = place_points(
        KeypointPredictor(None, "cpu"), [ims[i] for i in hit], [boxes[i] for i in hit]
    )
    errors = nme(points, np.stack([labels[i].points for i in hit]))
    success = landmark_confidence(points, point_conf) >= SUCCESS_THRESHOLD
    assert 0 < (~success).sum() < 0.5 * len(hit)
    assert errors[~success].mean() > 1.3 * errors[success].mean()

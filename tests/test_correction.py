"""The shape correction: its face frame, its fit, and the predictor serving it from the weights."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tests.helpers import PHOTO, template_points
from vidkeys.errors import VidkeysError
from vidkeys.faces.crop import crop, crop_matrix
from vidkeys.faces.haar import HaarDetector
from vidkeys.keypoints.correction import META_KEY, ShapeCorrection, from_face, to_face
from vidkeys.keypoints.network import KeypointNet, ModelConfig, load_model, save_model
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.training import correction
from vidkeys.training.data import Sample, training_people_faces
from vidkeys.training.evaluate import evaluate, format_report, place_points
from vidkeys.training.metrics import nme


def _placed(shapes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shapes ``(n, 68, 2)`` turned, scaled and moved at random, as faces lie in images."""
    angle = rng.uniform(-0.5, 0.5, len(shapes))
    rot = np.stack([np.c_[np.cos(angle), -np.sin(angle)], np.c_[np.sin(angle), np.cos(angle)]], 1)
    scale = rng.uniform(20, 200, len(shapes))[:, None, None]
    return np.einsum("nij,nkj->nki", rot, shapes) * scale + rng.uniform(0, 500, (len(shapes), 1, 2))


def _faces(n: int, rng: np.random.Generator) -> np.ndarray:
    """Template faces varied along three shape modes (mouth open, jaw width, brow height)."""
    base = template_points()
    mouth, jaw, brows = (np.zeros_like(base) for _ in range(3))
    mouth[57:60, 1] = mouth[65:68, 1] = 0.2
    jaw[:17, 0] = base[:17, 0]
    brows[17:27, 1] = -0.1
    k = rng.normal(0, 1, (n, 3, 1, 1))
    return _placed(base + k[:, 0] * mouth + k[:, 1] * 0.1 * jaw + k[:, 2] * brows, rng)


def test_face_frame_round_trip_and_ignores_placement() -> None:
    rng = np.random.default_rng(0)
    faces = _faces(20, rng)
    shape = to_face(faces)
    np.testing.assert_allclose(from_face(shape, faces), faces, atol=1e-9)
    # The outer eye corners lie on the frame's x axis, one eye distance apart.
    np.testing.assert_allclose(
        shape[:, 45] - shape[:, 36], np.tile([1.0, 0.0], (20, 1)), atol=1e-12
    )
    np.testing.assert_allclose(to_face(_placed(faces, rng)), shape, atol=1e-9)


def test_correction_moves_with_the_face() -> None:
    """Correcting a face turned and scaled in the image is correcting it, then turning it."""
    rng = np.random.default_rng(1)
    fix = ShapeCorrection(
        rng.normal(0, 0.3, 136),
        rng.normal(0, 0.1, (4, 136)),
        rng.normal(0, 0.02, (4, 136)),
        rng.normal(0, 0.02, 136),
    )
    faces = _faces(10, rng)
    corrected = fix(faces)
    assert np.abs(corrected - faces).max() > 0.01  # it does move them
    moved = _placed(faces, np.random.default_rng(2))
    np.testing.assert_allclose(to_face(fix(moved)), to_face(corrected), atol=1e-9)
    assert fix(np.zeros((0, 68, 2))).shape == (0, 68, 2)


def test_fit_learns_a_miss_that_depends_on_the_shape() -> None:
    """Answers that keep the mouth a third too closed and sit to one side, as a network
    might: the fit on some faces takes the miss off others."""
    rng = np.random.default_rng(3)
    truth = _faces(400, rng)
    shape = to_face(truth)
    mouth_open = shape[:, 57:58, 1] - shape[:, 51:52, 1]
    miss = np.zeros_like(shape)
    miss[:, 57:60, 1] = miss[:, 65:68, 1] = -mouth_open / 3
    miss[..., 0] += 0.03
    answers = from_face(shape + miss, truth)
    fix = correction.fit_correction(answers[:300], truth[:300], rank=8)
    before = nme(answers[300:], truth[300:]).mean()
    after = nme(fix(answers[300:]), truth[300:]).mean()
    assert before > 0.03 and after < before / 10
    with pytest.raises(VidkeysError, match="more than 8 faces"):
        correction.fit_correction(answers[:8], truth[:8], rank=8)


def _tiny_weights(path: Path, meta: dict | None = None) -> Path:
    torch.manual_seed(0)
    save_model(
        KeypointNet(ModelConfig(crop_size=32, widths=(8, 16, 16, 32), decoder=16)), path, meta
    )
    return path


def test_shipped_weights_serve_their_correction(tmp_path: Path) -> None:
    """The shipped weights carry a correction (``make train`` fits it); the predictor
    applies it to every answer, moving the sample face's points by a little."""
    image = cv2.imread(str(PHOTO), cv2.IMREAD_GRAYSCALE)
    box = HaarDetector()(image)[0]
    served = KeypointPredictor(device="cpu")
    raw = KeypointPredictor(device="cpu", correct=False)
    assert served.correction is not None and raw.correction is None
    size = served.crop_size
    shifted = [box + np.array([dx, dy, 0.0, 0.0]) for dx in (-4, 0, 4) for dy in (-4, 0, 4)]
    crops = np.stack([crop(image, crop_matrix(b, size), size) for b in shifted])
    points, answers = served(crops)[0], raw(crops)[0]
    np.testing.assert_allclose(points, served.correction(answers), atol=1e-3)
    eyes = np.linalg.norm(answers[:, 36] - answers[:, 45], axis=1)
    moved = np.linalg.norm(points - answers, axis=2).mean(axis=1) / eyes
    assert np.all((moved > 0.002) & (moved < 0.05)), moved
    # Weights without a correction are served as they are.
    plain = _tiny_weights(tmp_path / "plain.pt")
    tiny = crops[:, ::3, ::3][:, :32, :32].copy()
    assert KeypointPredictor(plain, "cpu").correction is None
    np.testing.assert_array_equal(
        KeypointPredictor(plain, "cpu")(tiny)[0],
        KeypointPredictor(plain, "cpu", correct=False)(tiny)[0],
    )


def test_correction_command_writes_the_weights_and_their_graph(
    tiny_dataset: tuple[Path, Path, np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    csv_path, images_dir, _ = tiny_dataset
    weights = _tiny_weights(tmp_path / "m.pt", {"note": "kept"})
    monkeypatch.setattr(correction, "CHUNK", 5)  # several CNN calls, as on real data
    args = ["--csv", str(csv_path), "--images", str(images_dir), "--model", str(weights)]
    correction.main([*args, "--rank", "4"])
    meta = load_model(weights)[1]
    assert meta["note"] == "kept" and len(meta[META_KEY]["basis"]) == 4
    served = KeypointPredictor(weights, "cpu")  # the graph was rewritten in step
    assert served.correction is not None and served.correction.weights.shape == (4, 136)
    assert "written to" in capsys.readouterr().out
    # The same fit as all the training faces placed in one call.
    samples, images, boxes = training_people_faces(csv_path, images_dir)
    assert len(samples) > 5
    raw = KeypointPredictor(weights, "cpu", correct=False)
    truth = np.stack([s.points for s in samples])
    direct = correction.fit_correction(place_points(raw, images, boxes)[0], truth, rank=4)
    np.testing.assert_allclose(served.correction.offset, direct.offset, atol=1e-5)


def test_eval_says_whether_the_answers_were_corrected(
    tiny_dataset: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    csv_path, images_dir, _ = tiny_dataset
    shipped = evaluate(csv_path, images_dir, boxes="oracle", device="cpu")
    plain = evaluate(
        csv_path, images_dir, weights=_tiny_weights(tmp_path / "p.pt"), boxes="oracle", device="cpu"
    )
    assert shipped["shape_correction"] and not plain["shape_correction"]
    assert "no shape correction" in format_report(plain)
    assert "no shape correction" not in format_report(shipped)


def _people(
    n_people: int, copies: int, rng: np.random.Generator
) -> tuple[list[Sample], np.ndarray]:
    """Samples named as the data set names them: ``copies`` images of each person."""
    truth = np.repeat(_faces(n_people, rng), copies, axis=0)
    names = [f"Person_{p}_{k:02d}.jpg" for p in range(n_people) for k in range(copies)]
    return [Sample(name, t) for name, t in zip(names, truth, strict=True)], truth


def test_cross_validation_learns_shape_not_people() -> None:
    """A miss that follows the shape is learnt across folds; a miss peculiar to each
    person is not, however many of that person's near-duplicate images there are."""
    rng = np.random.default_rng(4)
    samples, truth = _people(60, 5, rng)
    shape = to_face(truth)
    mouth_open = shape[:, 57:58, 1] - shape[:, 51:52, 1]
    by_shape = np.zeros_like(shape)
    by_shape[:, 57:60, 1] = by_shape[:, 65:68, 1] = -mouth_open / 3
    answers = from_face(shape + by_shape, truth)
    errors = correction.cross_validate(answers, truth, samples, 5, ranks=(0, 8), ridges=(0.1,))
    assert set(errors) == {(0, 0.1), (8, 0.1)}
    assert errors[8, 0.1] < errors[0, 0.1] / 5

    per_person = np.repeat(rng.normal(0, 0.05, (60, 68, 2)), 5, axis=0)
    answers = from_face(shape + per_person, truth)
    raw = nme(answers, truth).mean()
    in_sample = correction.fit_correction(answers, truth, rank=16, ridge=0.1)
    assert nme(in_sample(answers), truth).mean() < 0.8 * raw  # it can memorise them...
    cv = correction.cross_validate(answers, truth, samples, 5, ranks=(16,), ridges=(0.1,))
    assert cv[16, 0.1] > 0.95 * raw  # ...but not predict a person it has not seen
    with pytest.raises(VidkeysError, match="2 to 60 folds"):
        correction.cross_validate(answers, truth, samples, 1)


def test_correction_command_cross_validates_without_writing(
    tiny_dataset: tuple[Path, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    csv_path, images_dir, _ = tiny_dataset
    weights = _tiny_weights(tmp_path / "m.pt")
    before = weights.read_bytes(), weights.with_suffix(".onnx").read_bytes()
    args = ["--csv", str(csv_path), "--images", str(images_dir), "--model", str(weights)]
    correction.main([*args, "--cross-validate", "2"])
    out = capsys.readouterr().out
    assert "2-fold NME" in out and "uncorrected" in out
    ranks = [int(line.split()[0]) for line in out.splitlines() if line.split()[0].isdigit()]
    assert ranks and set(ranks) < set(correction.CV_RANKS)  # those the 2 folds' faces allow
    assert (weights.read_bytes(), weights.with_suffix(".onnx").read_bytes()) == before

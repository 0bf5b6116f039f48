"""The face-mesh teacher: its map onto the 68 points, out-of-fold answers and blended labels."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from vidkeys.errors import VidkeysError
from vidkeys.training.data import Sample, read_keypoints_csv, split_people
from vidkeys.training.face_mesh import mesh_points
from vidkeys.training.metrics import nme
from vidkeys.training.teacher import (
    MeshMap,
    load_mesh,
    out_of_fold,
    person_folds,
    teacher_points,
    write_blended,
)

RNG = np.random.default_rng(0)
BASE = RNG.normal(size=(468, 3))
#: A fixed linear rule from a mesh (its own frame) to 68 points: what the map must find.
RULE = RNG.normal(size=(468 * 3, 136)) / 40


def _faces(n: int, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` meshes of varied shape, size and place, and their 68 points by :data:`RULE`."""
    rng = np.random.default_rng(n)
    mesh = BASE + 0.2 * rng.normal(size=(n, 468, 3))
    centre = mesh[:, :, :2].mean(axis=1, keepdims=True)
    size = np.sqrt(((mesh[:, :, :2] - centre) ** 2).sum(-1).mean(1))[:, None, None]
    shifted = mesh.copy()
    shifted[:, :, :2] -= centre
    points = ((shifted / size).reshape(n, -1) @ RULE).reshape(n, 68, 2)
    points += noise * rng.normal(size=points.shape)
    # Place each face somewhere else at another size: the map must not care.
    scale = rng.uniform(20, 90, (n, 1, 1))
    offset = rng.uniform(50, 200, (n, 1, 2))
    mesh = mesh * scale
    mesh[:, :, :2] += offset
    return mesh, points * size * scale + centre * scale + offset


def test_map_finds_a_linear_rule_whatever_the_face_size_and_place() -> None:
    mesh, points = _faces(3000)
    fitted = MeshMap.fit(mesh[:2500], points[:2500], alpha=1e-3)
    assert nme(fitted(mesh[2500:]), points[2500:]).max() < 1e-3


def test_out_of_fold_points_ignore_the_images_own_label() -> None:
    mesh, points = _faces(300, noise=0.05)
    fold = np.arange(300) % 5
    before = out_of_fold(mesh, points, fold, alpha=1.0)
    changed = points.copy()
    changed[7] += 25.0  # a wildly wrong label for image 7 (fold 2)
    after = out_of_fold(mesh, changed, fold, alpha=1.0)
    np.testing.assert_allclose(after[7], before[7])  # its own label never reached its map
    assert not np.allclose(after[8], before[8])  # another fold's map saw it


def test_folds_keep_each_person_together() -> None:
    people = ["A", "B", "A", "C", "B", "A"] * 10
    fold = person_folds(people, folds=3)
    for p in set(people):
        assert len(set(fold[np.array(people) == p])) == 1


def _dataset(tmp_path: Path) -> tuple[Path, list[Sample], np.ndarray]:
    mesh, points = _faces(200, noise=0.02)
    samples = [Sample(f"Person_{i // 5:02d}_{i % 5:02d}.jpg", p) for i, p in enumerate(points)]
    path = tmp_path / "k.csv"
    with path.open("w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["", *range(136)])
        rows.writerows([s.name, *(f"{v:.4f}" for v in s.points.ravel())] for s in samples)
    return path, read_keypoints_csv(path), mesh


def test_blended_labels_move_training_people_only(tmp_path: Path) -> None:
    path, samples, mesh = _dataset(tmp_path)
    found = np.ones(len(samples), bool)
    found[3] = False  # the mesh found no face here: its label stays
    teacher, _ = teacher_points(samples, mesh, found)
    assert np.isnan(teacher[3]).all() and not np.isnan(np.delete(teacher, 3, 0)).any()
    moved = write_blended(path, tmp_path / "b.csv", samples, teacher, weight=0.25)
    blended = read_keypoints_csv(tmp_path / "b.csv")
    train, val = split_people(samples)
    assert moved == len(train) - (3 in train)
    for i in val:
        np.testing.assert_array_equal(blended[i].points, samples[i].points)
    for i in train:
        want = samples[i].points if i == 3 else 0.75 * samples[i].points + 0.25 * teacher[i]
        np.testing.assert_allclose(blended[i].points, want, atol=1e-3)
    assert [s.name for s in blended] == [s.name for s in samples]


def test_a_mesh_file_of_other_images_is_refused(tmp_path: Path) -> None:
    _, samples, mesh = _dataset(tmp_path)
    np.savez(tmp_path / "m.npz", names=np.array([s.name for s in samples[::-1]]), mesh=mesh)
    with pytest.raises(VidkeysError, match="not the CSV's"):
        load_mesh(tmp_path / "m.npz", samples)
    (tmp_path / "junk.npz").write_text("not numpy")
    with pytest.raises(VidkeysError, match="not a face-mesh file"):
        load_mesh(tmp_path / "junk.npz", samples)


class _MeshAt:
    """Stands in for MediaPipe (not installed beside vidkeys) to check face_mesh.py's
    geometry: answers one point at the normalised place ``(x, y)`` of whatever image
    it is shown, and only from the ``answer_from``-th image on."""

    def __init__(self, x: float, y: float, answer_from: int) -> None:
        self.x, self.y, self.calls, self.answer_from = x, y, 0, answer_from
        self.shapes: list[tuple[int, ...]] = []

    def process(self, image: np.ndarray) -> SimpleNamespace:
        self.calls += 1
        self.shapes.append(image.shape)
        if self.calls < self.answer_from:
            return SimpleNamespace(multi_face_landmarks=None)
        mark = SimpleNamespace(x=self.x, y=self.y, z=0.1)
        return SimpleNamespace(multi_face_landmarks=[SimpleNamespace(landmark=[mark])])


@pytest.mark.parametrize("answer_from", [1, 2, 3])
def test_mesh_points_come_back_in_the_images_own_pixels(answer_from: int) -> None:
    image = np.zeros((80, 100, 3), np.uint8)
    stand_in = _MeshAt(0.5, 0.25, answer_from)
    points, attempt = mesh_points(stand_in, image)
    assert attempt == answer_from
    framed = stand_in.shapes[-1]
    assert max(framed[:2]) >= 256  # small images are scaled up for the mesh
    pad = [0, 50, 100][answer_from - 1]
    width, height = 100 + 2 * pad, 80 + 2 * pad  # the bordered image, before scaling
    want = [0.5 * width - pad, 0.25 * height - pad, 0.1 * width]  # z in x's scale
    np.testing.assert_allclose(points[0], want, atol=0.5)


def test_mesh_points_none_when_no_try_finds_a_face() -> None:
    assert mesh_points(_MeshAt(0.5, 0.5, answer_from=99), np.zeros((50, 50, 3), np.uint8)) == (
        None,
        0,
    )

"""A second opinion for the training labels: MediaPipe's face mesh mapped onto the 68 points.

    python -m vidkeys.training.teacher --data DIR --mesh runs/teacher/mesh.npz \\
        --out runs/teacher/blended.csv [--weight 0.4]

The labels are noisy (about 2.5 % NME per image, ``benchmarks/label_noise.py``)
and the network learns them from 3,117 faces of 312 people. MediaPipe's face
mesh was trained on other faces by other people, so its mistakes are partly
its own: mapped onto the 68 points, it errs more than vidkeys' network on the
held-out people, yet the mean of the two errs less than either. Distillation
hands that to one network at no cost at run time: it trains on labels moved
``weight`` of the way toward the mapped mesh.

The map is linear (ridge regression from the mesh's 478 ``(x, y, z)`` points
to the 68 ``(x, y)``, both centred and scaled by the mesh's own size), fitted
on the training people only; its strength is chosen by cross-validation over
people. A training image's teacher points come from a map fitted without its
person (out of fold), so they carry no copy of its own label. Held-out rows
are written unchanged: validation stays against the real labels.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidkeys.errors import VidkeysError
from vidkeys.predictor import N_POINTS
from vidkeys.training.data import Sample, read_keypoints_csv, split_people
from vidkeys.training.metrics import nme

#: Share of the way each training label moves toward the teacher's points: the
#: mean of the shipped model's and the teacher's points, so weighted, erred
#: least on the held-out people (3.94 % at 0.4 and 0.5, 3.97 % at 0.6), and
#: at 0.5 the label's own noise in the target is halved.
TEACHER_WEIGHT = 0.5
#: Ridge strengths tried by cross-validation over the training people.
ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)
FOLDS = 5


def _frame(mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each mesh's centre ``(n, 1, 2)`` and size ``(n, 1, 1)``: its points' RMS distance
    from the centre, so the map sees faces of every size and place alike."""
    centre = mesh[:, :, :2].mean(axis=1, keepdims=True)
    size = np.sqrt(((mesh[:, :, :2] - centre) ** 2).sum(axis=-1).mean(axis=1))
    return centre, size[:, None, None]


def _features(mesh: np.ndarray) -> np.ndarray:
    centre, size = _frame(mesh)
    shifted = mesh - np.concatenate([centre, np.zeros_like(centre[..., :1])], axis=-1)
    return (shifted / size).reshape(len(mesh), -1)


@dataclass(frozen=True)
class MeshMap:
    """A ridge map from a face mesh to 68 points: ``points = frame((x - x_mean) @ w + t_mean)``."""

    x_mean: np.ndarray
    t_mean: np.ndarray
    weights: np.ndarray

    @classmethod
    def fit(cls, mesh: np.ndarray, points: np.ndarray, alpha: float) -> MeshMap:
        """Fit on meshes ``(n, 468, 3)`` and their labels ``(n, 68, 2)``."""
        centre, size = _frame(mesh)
        x = _features(mesh)
        t = ((points - centre) / size).reshape(len(points), -1)
        x_mean, t_mean = x.mean(axis=0), t.mean(axis=0)
        a, b = x - x_mean, t - t_mean
        weights = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ b)
        return cls(x_mean, t_mean, weights)

    def __call__(self, mesh: np.ndarray) -> np.ndarray:
        """68 points ``(n, 68, 2)`` in the meshes' pixels."""
        centre, size = _frame(mesh)
        t = (_features(mesh) - self.x_mean) @ self.weights + self.t_mean
        return t.reshape(len(mesh), N_POINTS, 2) * size + centre


def person_folds(people: Sequence[str], folds: int = FOLDS) -> np.ndarray:
    """A fold number per image, the same for all images of a person (seeded, stable)."""
    names = sorted(set(people))
    fold_of = dict(zip(names, np.random.default_rng(0).integers(0, folds, len(names)), strict=True))
    return np.array([fold_of[p] for p in people])


def out_of_fold(mesh: np.ndarray, points: np.ndarray, fold: np.ndarray, alpha: float) -> np.ndarray:
    """Each image's mapped points from a map fitted on the other folds' people."""
    placed = np.empty_like(points)
    for k in np.unique(fold):
        held = fold == k
        placed[held] = MeshMap.fit(mesh[~held], points[~held], alpha)(mesh[held])
    return placed


def choose_alpha(
    mesh: np.ndarray, points: np.ndarray, fold: np.ndarray, alphas: Sequence[float] = ALPHAS
) -> float:
    """The ridge strength with the lowest out-of-fold NME."""
    return min(alphas, key=lambda a: nme(out_of_fold(mesh, points, fold, a), points).mean())


def load_mesh(path: Path, samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """The meshes of ``samples`` (from ``training/face_mesh.py``) and which were found."""
    try:
        saved = np.load(path)
        names, mesh = list(saved["names"]), saved["mesh"]
    except (OSError, KeyError, ValueError) as exc:
        raise VidkeysError(f"{path}: not a face-mesh file from training/face_mesh.py") from exc
    if names != [s.name for s in samples]:
        raise VidkeysError(f"{path}: its images are not the CSV's (run face_mesh.py on it)")
    return mesh.astype(np.float64), ~np.isnan(mesh).any(axis=(1, 2))


def teacher_points(
    samples: Sequence[Sample], mesh: np.ndarray, found: np.ndarray
) -> tuple[np.ndarray, float]:
    """The teacher's 68 points for every image (NaN where the mesh found no face) and the
    ridge strength: out of fold for the training people, from a map fitted on all of
    them for the held-out people."""
    train, val = split_people(samples)
    train = np.array([i for i in train if found[i]])
    val = np.array([i for i in val if found[i]])
    labels = np.stack([s.points for s in samples])
    fold = person_folds([samples[i].person for i in train])
    alpha = choose_alpha(mesh[train], labels[train], fold)
    placed = np.full(labels.shape, np.nan)
    placed[train] = out_of_fold(mesh[train], labels[train], fold, alpha)
    if len(val):
        placed[val] = MeshMap.fit(mesh[train], labels[train], alpha)(mesh[val])
    return placed, alpha


def write_blended(
    source: Path, out: Path, samples: Sequence[Sample], teacher: np.ndarray, weight: float
) -> int:
    """Copy the keypoints CSV ``source`` to ``out`` with the training people's labels
    moved ``weight`` toward ``teacher``; returns how many rows moved."""
    train, _ = split_people(samples)
    with source.open(newline="") as f:
        rows = list(csv.reader(f))
    moved = 0
    for i in train:
        if np.isnan(teacher[i]).any():
            continue
        blended = (1 - weight) * samples[i].points + weight * teacher[i]
        rows[i + 1] = [rows[i + 1][0], *(f"{v:.3f}" for v in blended.reshape(-1))]
        moved += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with the keypoints CSV")
    parser.add_argument("--csv", default="training_frames_keypoints.csv")
    parser.add_argument("--mesh", type=Path, required=True, help="output of face_mesh.py")
    parser.add_argument("--out", type=Path, required=True, help="blended CSV to write")
    parser.add_argument("--weight", type=float, default=TEACHER_WEIGHT)
    args = parser.parse_args()
    try:
        source = args.data / args.csv
        samples = read_keypoints_csv(source)
        mesh, found = load_mesh(args.mesh, samples)
        teacher, alpha = teacher_points(samples, mesh, found)
        moved = write_blended(source, args.out, samples, teacher, args.weight)
    except VidkeysError as exc:
        raise SystemExit(f"error: {exc}") from None
    _, val = split_people(samples)
    val = [i for i in val if found[i]]
    errors = nme(teacher[val], np.stack([samples[i].points for i in val]))
    print(
        f"mesh found on {int(found.sum())} of {len(samples)} images; ridge alpha {alpha:g}; "
        f"teacher alone on the held-out people: NME {100 * errors.mean():.2f} % "
        f"(median {100 * np.median(errors):.2f} %, {int((errors > 0.1).sum())} over 10 %)"
    )
    print(f"{moved} training labels moved {args.weight:g} toward the teacher -> {args.out}")


if __name__ == "__main__":
    main()

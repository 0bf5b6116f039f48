"""Fit the confidence: the chance that a face's points are usable, under real video's conditions.

    VIDKEYS_DATA=../shared/data/youtube-faces-68 python -m vidkeys.training.fit_confidence

(``--model WEIGHTS.pt`` fits another model's.) The held-out people under every
condition of :data:`vidkeys.training.conditions.CONDITIONS` (random draws
seeded 1, the benchmark's are seeded 0), their points placed as ``vidkeys eval
--boxes search`` and a new face in the pipeline place them:

1. ``log NME`` is predicted from :func:`vidkeys.keypoints.confidence.features`
   by least squares, each condition weighing the same (``WEIGHTS``);
2. a logistic curve of that prediction gives the chance that the face's NME
   is at most :data:`vidkeys.keypoints.confidence.USABLE_NME` (``MID_NME``,
   ``SCALE``).

The network never trained on these people; the confidence is fitted on them
because the training people's points are better than any new face's. It
prints the constants for ``vidkeys/keypoints/confidence.py`` and, per
condition, the rank correlation of confidence and NME (fitted on all people,
and with each fifth of the people predicted by a fit on the rest), and the
share of ``success`` 1 among usable and unusable faces.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidkeys.keypoints.confidence import SUCCESS_THRESHOLD, USABLE_NME, features
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.training.conditions import CONDITIONS, apply
from vidkeys.training.data import held_out_people
from vidkeys.training.evaluate import face_boxes, place_points, spearman
from vidkeys.training.metrics import nme


@dataclass
class Faces:
    """The faces of one condition the face search found: features, NME, person fold."""

    x: np.ndarray
    errors: np.ndarray
    fold: np.ndarray

    def without(self, fold: int) -> Faces:
        """These faces less those of one fold of people."""
        keep = self.fold != fold
        return Faces(self.x[keep], self.errors[keep], self.fold[keep])


def condition_faces(predictor: KeypointPredictor, data: Path) -> dict[str, Faces]:
    """Every condition's found faces, placed as a new face's points are placed."""
    samples, images = held_out_people(data)
    folds = np.array([hashlib.sha1(s.person.encode()).digest()[0] % 5 for s in samples])
    out = {}
    for name, condition in CONDITIONS.items():
        rng = np.random.default_rng(1)
        ims, labels = apply(condition, images, samples, rng)
        boxes = face_boxes(ims, labels, "search")
        hit = [i for i, b in enumerate(boxes) if b is not None]
        points, _, point_conf = place_points(
            predictor, [ims[i] for i in hit], [boxes[i] for i in hit]
        )
        errors = nme(points, np.stack([labels[i].points for i in hit]))
        out[name] = Faces(features(points, point_conf), errors, folds[hit])
        print(f"{name}: {len(hit)} faces", flush=True)
    return out


def fit_line(faces: list[Faces]) -> np.ndarray:
    """Least squares of log NME on the features, each set of faces weighing the same."""
    x = np.concatenate([f.x for f in faces])
    y = np.log(np.concatenate([f.errors for f in faces]))
    w = np.sqrt(np.concatenate([np.full(len(f.errors), 1.0 / len(f.errors)) for f in faces]))
    coef, *_ = np.linalg.lstsq(x * w[:, None], y * w, rcond=None)
    return coef


def fit_logistic(z: np.ndarray, usable: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """``(mid, scale)`` of P(usable) = 1 / (1 + exp((z - mid) / scale)), by Newton's method."""
    a = np.column_stack([z, np.ones_like(z)])
    beta = np.array([-1.0, float(np.median(z))])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -50, 50)))
        grad = a.T @ (usable - p)
        hess = (a * (p * (1 - p))[:, None]).T @ a + 1e-9 * np.eye(2)
        beta = beta + np.linalg.solve(hess, grad)
    slope, intercept = beta
    return -intercept / slope, -1.0 / slope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("VIDKEYS_DATA"))
    parser.add_argument("--model", type=Path, default=None, help="weights (default: shipped)")
    args = parser.parse_args()
    if args.data is None:
        raise SystemExit("error: give --data DIR or set VIDKEYS_DATA")
    faces = condition_faces(KeypointPredictor(args.model, "cpu"), args.data)
    coef = fit_line(list(faces.values()))
    z = np.concatenate([f.x @ coef for f in faces.values()])
    usable = np.concatenate([f.errors <= USABLE_NME for f in faces.values()]).astype(float)
    mid, scale = fit_logistic(z, usable)
    print("WEIGHTS = np.array([" + ", ".join(f"{c:.4f}" for c in coef) + "])")
    print(f"MID_NME = {np.exp(mid):.4f}; SCALE = {scale:.4f}")

    def confidence(x: np.ndarray, c: np.ndarray, m: float, s: float) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(np.clip((x @ c - m) / s, -50, 50)))

    print(
        f"{'condition':18s} {'faces':>5s} {'rho':>6s} {'rho cv':>6s}"
        f" {'succ|ok':>8s} {'succ|bad':>8s}"
    )
    # Each fifth of the people's line, fitted on the other four fifths.
    held_out = [fit_line([g.without(k) for g in faces.values()]) for k in range(5)]
    for name, f in faces.items():
        conf = confidence(f.x, coef, mid, scale)
        cv = np.empty(len(f.errors))
        for k, c in enumerate(held_out):
            cv[f.fold == k] = -(f.x[f.fold == k] @ c)
        ok = f.errors <= USABLE_NME
        success = conf >= SUCCESS_THRESHOLD
        bad = f"{100 * success[~ok].mean():7.1f}%" if (~ok).any() else "      - "
        print(
            f"{name:18s} {len(f.errors):5d} {spearman(conf, f.errors):+.3f} "
            f"{spearman(cv, f.errors):+.3f} {100 * success[ok].mean():7.1f}% {bad}"
        )


if __name__ == "__main__":
    main()

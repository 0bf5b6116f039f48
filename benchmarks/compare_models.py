"""Is one model really better than another on the held-out people? A paired bootstrap.

    python benchmarks/compare_models.py [--data DIR] [--fast] [--mean] [--jitter]
        [--uncorrected] [--second-pass R.pt] BASE.pt [OTHER.pt ...]

``shipped`` names the shipped weights. Each model places the points of every
held-out face as ``vidkeys eval --split val --boxes haar`` does (Haar boxes,
two passes, the mirror test unless ``--fast``); faces Haar misses are left out
of every mean. The held-out set is 35 people: its mean NME moves by about
0.2 points with the people drawn, more than most changes to a model, while
two models' errors on the same faces move together. So each model's NME
comes with a 95 % interval from resampling people (not faces: a person's
images are near duplicates), and each model after the first with the
interval of its difference to the first, on the same resampled people. A
difference whose interval excludes 0 is one the held-out people show.
``--mean`` adds the mean of all the models' points (an ensemble; each pass
crops from the previous pass's mean points): what distilling them into one
network could at best reach. ``--jitter`` adds each model with test-time
augmentation: its last pass averages the points of the crop and of
:data:`JITTER`'s perturbed crops (rotated, scaled, shifted within the training
jitter's range): what 11 times the CNN's work buys. ``--uncorrected`` puts
each model without its shape correction (:mod:`vidkeys.correction`) first,
so the differences printed are what the correction buys. ``--second-pass``
adds each model with R placing the points of every pass after its first (a
second-pass network, ``benchmarks/second_pass.py``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from vidkeys.config import TrackerConfig
from vidkeys.crop import box_from_points, crop, crop_matrix, cut_faces, to_frame
from vidkeys.predictor import KeypointPredictor
from vidkeys.training.data import held_out_faces
from vidkeys.training.evaluate import place_points
from vidkeys.training.metrics import FAILURE_THRESHOLD, nme

RESAMPLES = 2000
#: ``--jitter``'s crop perturbations (keyword arguments of :func:`crop_matrix`).
JITTER = (
    {"angle_deg": 8.0},
    {"angle_deg": -8.0},
    {"angle_deg": 15.0},
    {"angle_deg": -15.0},
    {"scale": 0.93},
    {"scale": 1.07},
    {"shift": (0.04, 0.0)},
    {"shift": (-0.04, 0.0)},
    {"shift": (0.0, 0.04)},
    {"shift": (0.0, -0.04)},
)


def mean_points(
    predictors: list[KeypointPredictor],
    images: list[np.ndarray],
    boxes: list[np.ndarray],
    passes: int = TrackerConfig.new_face_passes,
) -> np.ndarray:
    """:func:`place_points` for several models at once: every pass places the mean of
    their points, and the next pass crops from the box of that mean."""
    for _ in range(passes):
        each = []
        for predictor in predictors:
            crops, mats = cut_faces(images, boxes, predictor.crop_size)
            each.append(to_frame(predictor(crops)[0], mats))
        points = np.mean(each, axis=0)
        boxes = [box_from_points(p) for p in points]
    return points


def jittered_points(
    predictor: KeypointPredictor,
    images: list[np.ndarray],
    boxes: list[np.ndarray],
    passes: int = TrackerConfig.new_face_passes,
) -> np.ndarray:
    """:func:`place_points` whose last pass places the mean of the points of the
    crop and of its :data:`JITTER` perturbations, each mapped back to the image."""
    if passes > 1:
        points = place_points(predictor, images, boxes, passes - 1)[0]
        boxes = [box_from_points(p) for p in points]
    size = predictor.crop_size
    each = []
    for perturb in ({}, *JITTER):
        mats = [crop_matrix(b, size, **perturb) for b in boxes]
        crops = np.stack([crop(im, m, size) for im, m in zip(images, mats, strict=True)])
        each.append(to_frame(predictor(crops)[0], mats))
    return np.mean(each, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="weights files; 'shipped' for the shipped one")
    parser.add_argument("--data", type=Path, default=os.environ.get("VIDKEYS_DATA"))
    parser.add_argument("--fast", action="store_true", help="no mirror test")
    parser.add_argument("--mean", action="store_true", help="also the mean of the models' points")
    parser.add_argument(
        "--jitter", action="store_true", help="also each model with jittered crops averaged"
    )
    parser.add_argument(
        "--uncorrected", action="store_true", help="each model without its shape correction first"
    )
    parser.add_argument(
        "--second-pass", type=Path, default=None, help="also each model with R for later passes"
    )
    args = parser.parse_args()
    if args.data is None:
        raise SystemExit("error: give --data DIR or set VIDKEYS_DATA")
    samples, faces, face_boxes = held_out_faces(
        args.data / "training_frames_keypoints.csv", args.data / "training"
    )
    truth = np.stack([s.points for s in samples])
    people = np.array([s.person for s in samples])
    groups = [np.flatnonzero(people == p) for p in np.unique(people)]
    rng = np.random.default_rng(0)
    draws = [
        np.concatenate([groups[j] for j in rng.integers(0, len(groups), len(groups))])
        for _ in range(RESAMPLES)
    ]
    print(f"{len(samples)} faces Haar finds, of {len(groups)} people")
    predictors = {}
    for correct in (False, True) if args.uncorrected else (True,):
        for name in args.models:
            label = name if correct else f"{name} uncorrected"
            weights = None if name == "shipped" else Path(name)
            predictors[label] = KeypointPredictor(
                weights, "cpu", mirror_test=not args.fast, correct=correct
            )
    placed = {name: place_points(p, faces, face_boxes)[0] for name, p in predictors.items()}
    if args.jitter:
        for name, predictor in predictors.items():
            placed[f"{name} + jitter"] = jittered_points(predictor, faces, face_boxes)
    if args.second_pass:
        second = KeypointPredictor(args.second_pass, "cpu", mirror_test=not args.fast)
        for name, predictor in predictors.items():
            first = place_points(predictor, faces, face_boxes, 1)[0]
            boxes = [box_from_points(p) for p in first]
            later = max(1, TrackerConfig.new_face_passes - 1)
            placed[f"{name}, then {args.second_pass.name}"] = place_points(
                second, faces, boxes, later
            )[0]
    if args.mean:
        placed["mean of all"] = mean_points(list(predictors.values()), faces, face_boxes)
    base = None
    for name, points in placed.items():
        errors = nme(points, truth)
        low, high = np.percentile([errors[d].mean() for d in draws], [2.5, 97.5])
        line = (
            f"{name:32} NME {100 * errors.mean():.2f} % ({100 * low:.2f}-{100 * high:.2f}), "
            f"over {100 * FAILURE_THRESHOLD:.0f} %: {int((errors > FAILURE_THRESHOLD).sum())}"
        )
        if base is None:
            base = errors
        else:
            diff = errors - base
            low, high = np.percentile([diff[d].mean() for d in draws], [2.5, 97.5])
            line += (
                f"; vs {next(iter(placed))}: {100 * diff.mean():+.3f} "
                f"({100 * low:+.3f} to {100 * high:+.3f})"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()

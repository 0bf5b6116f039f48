"""Training labels moved toward a teacher network's points: distillation on the CPU.

A wider network trained on the same labels (the "teacher": 8x the shipped
network's arithmetic, too slow to serve; ``make train`` trains one)
places new people's points better than the shipped
network does. Its points on the training people's images, blended into
their labels, pass part of that on to the small network trained on them,
without the teacher in the training loop::

    python -m vidkeys.training.teacher_labels --csv DATA/training_frames_keypoints.csv \\
        --images DATA/training --teacher TEACHER.pt [MORE.pt ...] --weight 0.5 \\
        --out runs/teacher_labels.csv
    vidkeys train --csv runs/teacher_labels.csv --images DATA/training ...

What it bought is in ``saved_models/README.md``, "What was tried". The teacher
places each face as ``vidkeys eval`` does (Haar box, two passes, the mirror
test). Only the training people's rows change: the held-out people keep
their labels, which validation measures against.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.training.data import (
    Sample,
    boxes_or_points,
    cached_haar_boxes,
    load_images,
    read_keypoints_csv,
    split_people,
)
from vidkeys.training.evaluate import place_points


def blend(
    samples: list[Sample], teacher_points: np.ndarray, weight: float
) -> tuple[list[Sample], np.ndarray]:
    """The samples with each training person's points moved ``weight`` of the way to the
    teacher's (held-out people unchanged), and the training indices."""
    train, _ = split_people(samples)
    out = list(samples)
    for i in train:
        points = weight * teacher_points[i] + (1 - weight) * samples[i].points
        out[i] = Sample(samples[i].name, points)
    return out, np.asarray(train)


def teacher_labels(
    csv_path: Path, images_dir: Path, teachers: list[Path], weight: float, batch: int = 256
) -> tuple[list[Sample], np.ndarray]:
    """:func:`blend` with the mean of the teachers' points on every image of the data set.

    Several teachers average out part of each one's own errors: two teachers
    trained apart place the held-out people's points better together than
    either alone, though the student of two did no better than the student of
    one (model card, "What was tried")."""
    samples = read_keypoints_csv(csv_path)
    images = load_images(samples, images_dir)
    found = cached_haar_boxes(csv_path, images, samples)
    boxes = boxes_or_points(samples, found)
    placed = []
    for teacher in teachers:
        predictor = KeypointPredictor(teacher, "cpu")
        placed.append(
            np.concatenate(
                [
                    place_points(predictor, images[i : i + batch], boxes[i : i + batch])[0]
                    for i in range(0, len(samples), batch)
                ]
            )
        )
    return blend(samples, np.mean(placed, axis=0), weight)


def write_keypoints_csv(path: Path, samples: list[Sample], header: list[str]) -> None:
    """Samples in the keypoints CSV format :func:`read_keypoints_csv` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for s in samples:
            writer.writerow([s.name, *(f"{v:.3f}" for v in s.points.ravel())])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument(
        "--teacher", type=Path, nargs="+", required=True, help="teachers' weights (their mean)"
    )
    parser.add_argument("--weight", type=float, default=0.5, help="0: the labels, 1: the teacher")
    parser.add_argument("--out", type=Path, required=True, help="CSV to write")
    args = parser.parse_args()
    if not 0 <= args.weight <= 1:
        raise SystemExit(f"error: --weight must lie in 0-1, got {args.weight}")
    samples, train = teacher_labels(args.csv, args.images, args.teacher, args.weight)
    with args.csv.open(newline="") as f:
        header = next(csv.reader(f))
    write_keypoints_csv(args.out, samples, header)
    names = ", ".join(map(str, args.teacher))
    print(f"{len(train)} training rows moved {args.weight:g} toward {names}: {args.out}")


if __name__ == "__main__":
    main()

"""How far a new face's first crop box lies from its labels' box: the training crops' noise.

For every third face of the training people (never the held-out ones) that
YuNet finds, the crop box from its five points
(:func:`vidkeys.faces.crop.box_from_landmarks`) is compared with the one from
the labelled 68 points (:func:`vidkeys.faces.crop.crop_box_from_points`):
centre across and down the face in box widths, log of the size ratio, roll in
degrees. Their spread is :attr:`vidkeys.training.augment.AugmentConfig.detector_noise`.
Then the same faces rolled 30 and 45 degrees (:func:`vidkeys.training.conditions.roll`):
the share of the roll YuNet's five points see
(:attr:`~vidkeys.training.augment.AugmentConfig.roll_seen`)::

    python -m vidkeys.training.box_noise --csv DATA/training_frames_keypoints.csv \\
        --images DATA/training
"""

from __future__ import annotations

import argparse

import numpy as np

from vidkeys.faces.crop import box_from_landmarks, crop_box_from_points, roll_degrees
from vidkeys.faces.yunet import YuNetSearch
from vidkeys.training.conditions import roll
from vidkeys.training.yunet_points import detected_points, training_faces


def box_difference(five: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(across, down, log size, roll)`` of the five points' box against the points' box."""
    new, truth = box_from_landmarks(five), crop_box_from_points(points)
    w = truth[2]
    offset = (new[:2] + new[2:4] / 2) - (truth[:2] + truth[2:4] / 2)
    r = np.deg2rad(truth[4])
    across = offset @ np.array([np.cos(r), np.sin(r)]) / w
    down = offset @ np.array([-np.sin(r), np.cos(r)]) / w
    turn = roll_degrees(five) - roll_degrees(points)
    return np.array([across, down, np.log(new[2] / w), turn])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True)
    parser.add_argument("--images", required=True)
    args = parser.parse_args()
    samples, images, found = training_faces(args.csv, args.images, every=3)
    rows = [
        box_difference(five, sample.points)
        for sample, five in zip(samples, found, strict=True)
        if np.isfinite(five).all()
    ]
    found = np.array(rows)
    print(f"# from {len(found)} of {len(samples)} training faces")
    print("          across   down  log size  roll (deg)")
    print("mean    " + " ".join(f"{v:8.3f}" for v in found.mean(axis=0)))
    print("sd      " + " ".join(f"{v:8.3f}" for v in found.std(axis=0)))
    rng = np.random.default_rng(0)
    search = YuNetSearch()
    for degrees in (30, 45):
        seen = []
        for image, sample in zip(images, samples, strict=True):
            turned, points = roll(degrees)(image, sample.points, rng)
            five = detected_points(search, turned, points)
            if np.isfinite(five).all():
                seen.append(roll_degrees(five) / roll_degrees(points))
        low, mid, high = np.percentile(seen, [10, 50, 90])
        print(f"rolled {degrees}: share of the roll seen, median {mid:.2f} ({low:.2f}-{high:.2f})")


if __name__ == "__main__":
    main()

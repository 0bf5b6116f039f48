"""Remake :data:`vidkeys.faces.crop.YUNET_POINTS`: where YuNet's five points sit on the mean face.

For every face of the training people (never the held-out ones) that YuNet
finds, the similarity transform taking its labelled 68 points onto the mean
shape (:data:`vidkeys.keypoints.pose.FACE_3D`'s x, y) carries YuNet's five points
there too; their mean, made left-right symmetric, is printed as the literal
pasted into ``vidkeys/faces/crop.py``::

    python -m vidkeys.training.yunet_points --csv DATA/training_frames_keypoints.csv \\
        --images DATA/training
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from vidkeys.faces.detect import Detections
from vidkeys.faces.yunet import YuNetSearch
from vidkeys.keypoints.pose import FACE_3D
from vidkeys.training.data import Sample, load_images, read_keypoints_csv, split_people


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 least-squares similarity transform taking points ``src`` onto ``dst``."""
    matrix, _ = cv2.estimateAffinePartial2D(
        src.astype(np.float32), dst.astype(np.float32), method=cv2.LMEDS
    )
    return matrix


def detected_points(search: YuNetSearch, image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """YuNet's five points of the face whose centre is nearest the labelled one (NaN: none)."""
    found: Detections = search(image)
    if not len(found):
        return np.full((5, 2), np.nan)
    centres = found.boxes[:, :2] + found.boxes[:, 2:] / 2
    i = int(np.argmin(np.linalg.norm(centres - points.mean(axis=0), axis=1)))
    return found.landmarks[i]


def training_faces(
    csv: str, images_dir: str, every: int = 1
) -> tuple[list[Sample], list[np.ndarray], list[np.ndarray]]:
    """Every ``every``-th face of the training people (never the held-out ones): their
    samples, images and YuNet's five points (NaN where YuNet misses the face)."""
    samples = read_keypoints_csv(csv)
    train, _ = split_people(samples)
    samples = [samples[i] for i in train[::every]]
    images = load_images(samples, images_dir)
    search = YuNetSearch()
    five = [detected_points(search, im, s.points) for im, s in zip(images, samples, strict=True)]
    return samples, images, five


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True)
    parser.add_argument("--images", required=True)
    args = parser.parse_args()
    samples, _, found = training_faces(args.csv, args.images)
    mean = FACE_3D[:, :2]
    moved = []
    for sample, five in zip(samples, found, strict=True):
        if np.isfinite(five).all():
            m = similarity(sample.points, mean)
            moved.append(five @ m[:, :2].T + m[:, 2])
    ref = np.mean(moved, axis=0)
    # Symmetric: the eyes and mouth corners swap under a mirror, the nose stays.
    mirrored = ref[[1, 0, 2, 4, 3]] * [-1, 1]
    ref = (ref + mirrored) / 2
    print(f"# from {len(moved)} of {len(samples)} training faces")
    print("YUNET_POINTS = np.array(")
    print("    [" + ", ".join(f"[{x:.1f}, {y:.1f}]" for x, y in ref) + "]")
    print(")")


if __name__ == "__main__":
    main()

"""Measure how far a data set's labels lean: :data:`vidkeys.keypoints.mirror.LABEL_SHIFT`.

A model trained without mirrored crops learns the labels' convention. Run on
a training crop and on its mirror image (points mapped back, labels swapped),
its two answers differ by twice the labels' lean; the mean of that gap along
the eye axis, over the training people's crops, in eye distances, is the
shift that makes mirrored crops and mirrored test crops agree with the labels::

    python -m vidkeys.training.label_shift --csv DATA/training_frames_keypoints.csv \\
        --images DATA/training --model WEIGHTS_TRAINED_WITH_NO_FLIP.pt

It also prints the gap across the eye axis and by face size, which should be
near 0 and near constant for a lean that one number describes.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from vidkeys.faces.crop import cut_faces, to_frame
from vidkeys.keypoints.mirror import eye_axes, flip_points
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.training.data import cached_haar_boxes, load_images, read_keypoints_csv, split_people


def mirror_gap(
    csv_path: Path, images_dir: Path, weights: Path | None, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per training face (the first ``limit``, or all): the gap (along, across the
    eye axis) in eye distances, and the eye distance in pixels."""
    # The network's own answers, uncorrected: the served mirror test would put the lean in
    # by construction and measure LABEL_SHIFT for any model.
    predictor = KeypointPredictor(weights, "cpu", mirror_test=False, correct=False)
    samples = read_keypoints_csv(csv_path)
    samples = [samples[i] for i in split_people(samples)[0][:limit]]
    images = load_images(samples, images_dir)
    boxes = cached_haar_boxes(csv_path, images, samples)
    hit = [i for i, b in enumerate(boxes) if b is not None]
    size = predictor.crop_size
    crops, mats = cut_faces([images[i] for i in hit], [boxes[i] for i in hit], size)
    direct = to_frame(predictor(crops)[0], mats)
    mirrored = to_frame(flip_points(predictor(crops[..., ::-1].copy())[0], size), mats)
    axis, dist = eye_axes(direct)
    gap = (direct - mirrored).mean(axis=1) / dist
    along = (gap * axis).sum(axis=1)
    across = gap[:, 1] * axis[:, 0] - gap[:, 0] * axis[:, 1]
    return np.c_[along, across], dist[:, 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None, help="Weights (default: shipped).")
    args = parser.parse_args()
    gap, dist = mirror_gap(args.csv, args.images, args.model)
    print(f"faces {len(gap)}; gap along the eye axis {gap[:, 0].mean():.4f} eye distances")
    print(f"gap across the eye axis {gap[:, 1].mean():+.4f} (should be near 0)")
    edges = np.quantile(dist, [0, 0.25, 0.5, 0.75, 1])
    for lo, hi in itertools.pairwise(edges):
        part = (dist >= lo) & (dist <= hi)
        print(
            f"  eye distance {lo:5.1f}-{hi:5.1f} px: {gap[part, 0].mean():.4f} "
            f"({(gap[part, 0] * dist[part]).mean():.2f} px)"
        )


if __name__ == "__main__":
    main()

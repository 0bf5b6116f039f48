"""Fit the confidence constants: a line on training people, a midpoint on held-out ones.

    VIDKEYS_DATA=../shared/data/youtube-faces-68 python -m vidkeys.training.fit_confidence

(``VIDKEYS_MODEL=WEIGHTS.pt`` fits another model's.) Points come from the same
passes as ``vidkeys eval`` and a new face in the pipeline.

Prints W_PEAK, W_SHAPE, BIAS (least squares of log NME on log mean peak and
log shape distance, over the first 1,500 faces of the training people), and
MID_NME, SCALE (the held-out people's 90th percentile of predicted NME, and a
width that puts their median at 0.8), with the rank correlations it gives.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from vidkeys.keypoints.confidence import shape_distance
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.training.data import cached_haar_boxes, load_images, read_keypoints_csv, split_people
from vidkeys.training.evaluate import place_points, spearman
from vidkeys.training.metrics import nme


def faces(csv: Path, images: Path, idx: list[int], predictor: KeypointPredictor):
    samples = read_keypoints_csv(csv)
    chosen = [samples[i] for i in idx]
    ims = load_images(chosen, images)
    found = cached_haar_boxes(csv, ims, chosen)
    hit = [i for i, b in enumerate(found) if b is not None]
    # Placed as vidkeys eval and the tracker place a new face's points.
    pts, _, pc = place_points(predictor, [ims[i] for i in hit], [found[i] for i in hit])
    errors = nme(pts, np.stack([chosen[i].points for i in hit]))
    x = np.column_stack([np.log(pc.mean(1) + 0.01), np.log(shape_distance(pts)), np.ones(len(hit))])
    return x, errors


def main() -> None:
    data = Path(os.environ.get("VIDKEYS_DATA", "../shared/data/youtube-faces-68"))
    csv, images = data / "training_frames_keypoints.csv", data / "training"
    train, val = split_people(read_keypoints_csv(csv))
    predictor = KeypointPredictor(None, "cpu")
    x_train, e_train = faces(csv, images, train[:1500], predictor)
    x_val, e_val = faces(csv, images, val, predictor)
    w, *_ = np.linalg.lstsq(x_train, np.log(e_train), rcond=None)
    pred_val = x_val @ w
    mid = float(np.quantile(pred_val, 0.9))
    scale = (mid - float(np.median(pred_val))) / np.log(4.0)  # median -> 0.8
    print(f"W_PEAK, W_SHAPE, BIAS = {w[0]:.3f}, {w[1]:.4f}, {w[2]:.3f}")
    print(f"MID_NME = {np.exp(mid):.4f}; SCALE = {scale:.4f}")
    print(f"Spearman, training people {spearman(-(x_train @ w), e_train):+.3f}")
    print(f"Spearman, held-out people {spearman(-pred_val, e_val):+.3f}")


if __name__ == "__main__":
    sys.exit(main())

"""Accuracy of predicting again from the points' own box (a refinement pass).

    python benchmarks/bench_refine.py [--data DIR] [--model PATH]

On the held-out people (``--data``, default ``$VIDKEYS_DATA``), with Haar
boxes as ``vidkeys eval --boxes haar`` uses them: NME and failures of the
first pass, of one and two passes from the previous points' box (what a
followed face in a video gets every frame), and of the mean of the first two.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from vidkeys.crop import box_from_points, cut_faces, to_frame
from vidkeys.predictor import KeypointPredictor
from vidkeys.training.data import cached_haar_boxes, load_images, read_keypoints_csv, split_people
from vidkeys.training.metrics import failure_rate, nme


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("VIDKEYS_DATA"))
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    if args.data is None:
        raise SystemExit("error: give --data DIR or set VIDKEYS_DATA")
    csv = args.data / "training_frames_keypoints.csv"
    predictor = KeypointPredictor(args.model, "cpu")
    samples = read_keypoints_csv(csv)
    _, val = split_people(samples)
    samples = [samples[i] for i in val]
    images = load_images(samples, args.data / "training")
    boxes = cached_haar_boxes(csv, images, samples)
    hit = [i for i, b in enumerate(boxes) if b is not None]
    truth = np.stack([samples[i].points for i in hit])

    def predict(crop_boxes: list[np.ndarray]) -> np.ndarray:
        crops, mats = cut_faces([images[i] for i in hit], crop_boxes, predictor.crop_size)
        return to_frame(predictor(crops)[0].astype(np.float64), mats)

    first = predict([boxes[i] for i in hit])
    second = predict([box_from_points(p) for p in first])
    third = predict([box_from_points(p) for p in second])
    for name, points in [
        ("Haar box", first),
        ("1 pass from the points", second),
        ("2 passes from the points", third),
        ("mean of first two", (first + second) / 2),
    ]:
        errors = np.full(len(samples), np.inf)
        errors[hit] = nme(points, truth)
        print(
            f"{name:26} NME {100 * errors[hit].mean():5.2f} %"
            f"  failures {100 * failure_rate(errors):5.2f} %"
        )


if __name__ == "__main__":
    main()

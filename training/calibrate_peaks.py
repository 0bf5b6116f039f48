"""Heatmap peaks of faces and of crops that are not faces: a model's ``peak_range``.

    VIDKEYS_DATA=../shared/data/youtube-faces-68 python -m vidkeys.training.calibrate_peaks \
        [--model WEIGHTS.pt] [--write]

On the held-out people: the mean heatmap peak of each face (Haar box, then
the box of its points, as ``vidkeys eval``), and of crops that are not a
face: the box moved 0.8-1.5 box widths off the face, a box a third as wide
on an eye or the mouth, and lettering on a plain ground. Prints percentiles
of both, and the ``peak_range`` that puts them where the first model's were
(:func:`vidkeys.keypoints.predictor.peak_range`), so the tracker's confidence gates mean
the same for every model. ``--write`` stores it in the weights' metadata and
rewrites their ONNX graph, 32-bit (needs the ``train`` extra; ``make train`` then
makes it 8-bit with :mod:`vidkeys.training.quantize`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from vidkeys.faces.crop import box_from_points, cut_faces
from vidkeys.keypoints.predictor import FACE_LOW, NOT_FACE_HIGH, KeypointPredictor, peak_range
from vidkeys.training.data import held_out_faces
from vidkeys.training.evaluate import place_points


def lettering(rng: np.random.Generator, n: int, size: int = 160) -> list[np.ndarray]:
    """Grey images of random words, letters about a face's height."""
    out = []
    for _ in range(n):
        image = np.full((size, size), rng.integers(60, 200), np.uint8)
        word = "".join(rng.choice(list("ABCDEFGHKMNOPRSTUW0123456789"), rng.integers(2, 5)))
        ink = int(rng.choice([20, 235]))
        cv2.putText(image, word, (5, size // 2 + 20), cv2.FONT_HERSHEY_SIMPLEX, 1.6, ink, 4)
        out.append(image)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("VIDKEYS_DATA"))
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped weights")
    parser.add_argument("--write", action="store_true", help="store the range in the weights")
    args = parser.parse_args()
    if args.data is None:
        raise SystemExit("error: give --data DIR or set VIDKEYS_DATA")
    csv = args.data / "training_frames_keypoints.csv"
    predictor = KeypointPredictor(args.model, "cpu")
    predictor.meta["peak_range"] = (0.0, 1.0)  # raw peaks out
    _, ims, boxes = held_out_faces(csv, args.data / "training")
    pts, _, conf = place_points(predictor, ims, boxes)
    face_peak = conf.mean(axis=1)
    rng = np.random.default_rng(0)
    others: list[tuple[np.ndarray, np.ndarray]] = []
    for im, box, p in zip(ims, [box_from_points(p) for p in pts], pts, strict=True):
        angle = rng.uniform(0, 2 * np.pi)
        step = rng.uniform(0.8, 1.5) * box[2] * np.array([np.cos(angle), np.sin(angle)])
        others.append((im, box + np.array([*step, 0.0, 0.0])))
        for centre in (p[36:42].mean(0), p[48:60].mean(0)):
            w = box[2] / 3
            others.append((im, np.array([centre[0] - w / 2, centre[1] - w / 2, w, w])))
    for image in lettering(rng, 100):
        others.append((image, np.array([30.0, 30.0, 100.0, 100.0])))
    crops, _ = cut_faces([o[0] for o in others], [o[1] for o in others], predictor.crop_size)
    other_peak = predictor(crops)[2].mean(axis=1)
    print("mean heatmap peak")
    for name, values in (("faces", face_peak), ("not faces", other_peak)):
        q = np.quantile(values, [0.1, 0.5, 0.9])
        print(f"  {name:10} n {len(values):4}  10 % {q[0]:.3f}  median {q[1]:.3f}  90 % {q[2]:.3f}")
    low, high = float(np.quantile(face_peak, 0.1)), float(np.quantile(other_peak, 0.9))
    flat, sharp = peak_range(low, high)
    print(
        f"peak_range {flat:.4f} {sharp:.4f}: faces' 10th percentile -> {FACE_LOW}, "
        f"non-faces' 90th -> {NOT_FACE_HIGH}"
    )
    if args.write:
        from vidkeys.keypoints.network import load_model, save_model
        from vidkeys.keypoints.weights import default_weights

        path = args.model or default_weights()
        model, meta = load_model(path)
        save_model(model, path, {**meta, "peak_range": [round(flat, 4), round(sharp, 4)]})
        print(f"written to {path} and its ONNX graph (32-bit: quantise it again after)")


if __name__ == "__main__":
    main()

"""Would more labelled faces pay? Held-out NME against the number of people trained on.

    python benchmarks/learning_curve.py [--data DIR] [--model WEIGHTS.pt]
        [--fractions 0.125,0.25,0.5] [--out-dir runs/curve] [--epochs N]

Trains a model's recipe (its network, training and augmentation settings,
read from its weights' metadata; the shipped model's unless ``--model``) on
a share of the training people (``TrainConfig.train_fraction``; a smaller share is a subset
of a larger one), then measures each model as ``vidkeys eval --split val
--boxes haar`` does. The whole training set is that model itself.
A power law ``NME = a + b * (images / 1000) ** -c`` fitted to the points says
what more faces of this kind would buy: ``a`` is where the recipe levels off.
Runs resume from their checkpoints in ``--out-dir``; each takes about the
shipped run's time multiplied by its share (30 minutes for all on this CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

import numpy as np

from vidkeys.network import ModelConfig, load_model
from vidkeys.predictor import KeypointPredictor
from vidkeys.training.augment import AugmentConfig
from vidkeys.training.data import held_out_faces
from vidkeys.training.evaluate import place_points
from vidkeys.training.metrics import FAILURE_THRESHOLD, nme
from vidkeys.training.train import TrainConfig, train


def recipe(weights: Path | None = None) -> tuple[ModelConfig, TrainConfig, AugmentConfig]:
    """A weights file's network, training and augmentation settings (default: shipped)."""
    model, meta = load_model(weights)
    augment = dict(meta["augment"])
    augment["contrast"] = tuple(augment["contrast"])
    return model.config, TrainConfig(**meta["train_config"]), AugmentConfig(**augment)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("VIDKEYS_DATA"))
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped weights")
    parser.add_argument("--fractions", default="0.125,0.25,0.5")
    parser.add_argument("--out-dir", type=Path, default=Path("runs/curve"))
    parser.add_argument("--epochs", type=int, default=None, help="default: the shipped run's")
    args = parser.parse_args()
    if args.data is None:
        raise SystemExit("error: give --data DIR or set VIDKEYS_DATA")
    csv, images_dir = args.data / "training_frames_keypoints.csv", args.data / "training"
    model_cfg, train_cfg, aug = recipe(args.model)
    if args.epochs:
        train_cfg = dataclasses.replace(train_cfg, epochs=args.epochs)
    runs: list[tuple[float, Path | None]] = []
    for fraction in (float(f) for f in args.fractions.split(",")):
        out = args.out_dir / f"people{fraction:g}.pt"
        cfg = dataclasses.replace(train_cfg, train_fraction=fraction)
        train(csv, images_dir, out, cfg, model_cfg, aug, device="cpu", resume=True)
        runs.append((fraction, out))
    runs.append((1.0, args.model))
    samples, images, boxes = held_out_faces(csv, images_dir)
    truth = np.stack([s.points for s in samples])
    print(f"{'people':>7} {'images':>7} {'NME':>7} {'over 10 %':>9}  weights")
    sizes, means = [], []
    for fraction, weights in runs:
        predictor = KeypointPredictor(weights, "cpu")
        points, _, _ = place_points(predictor, images, boxes)
        errors = nme(points, truth)
        sizes.append(predictor.meta["train_images"])
        means.append(100 * errors.mean())
        print(
            f"{fraction:>7.1%} {sizes[-1]:>7} "
            f"{100 * errors.mean():>6.2f}% {int((errors > FAILURE_THRESHOLD).sum()):>9}  "
            f"{weights or 'shipped'}",
            flush=True,
        )
    if len(sizes) >= 3:
        a, b, c = power_law(np.array(sizes, float), np.array(means))
        print(
            f"fit: NME = {a:.2f} + {b:.2f} * (images / 1000) ** -{c:.2f} %; "
            + ", ".join(
                f"{k}x the images: {a + b * (k * sizes[-1] / 1000) ** -c:.2f} %" for k in (2, 4)
            )
            + f"; levels off at {a:.2f} %"
        )


def power_law(sizes: np.ndarray, errors: np.ndarray) -> tuple[float, float, float]:
    """Least-squares ``(a, b, c)`` of ``errors = a + b * (sizes / 1000) ** -c``, c in 0.05-3."""
    best = (np.inf, 0.0, 0.0, 0.0)
    for c in np.arange(0.05, 3.0, 0.005):
        design = np.stack([np.ones_like(sizes), (sizes / 1000) ** -c], axis=1)
        (a, b), *_ = np.linalg.lstsq(design, errors, rcond=None)
        residual = float(np.sum((design @ (a, b) - errors) ** 2))
        if residual < best[0]:
            best = (residual, float(a), float(b), float(c))
    return best[1], best[2], best[3]


if __name__ == "__main__":
    main()

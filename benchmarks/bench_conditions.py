"""Missed faces, NME, failures and confidence, held-out people under roll, blur, dark and more.

    python benchmarks/bench_conditions.py [--data DIR] [--detector yunet|haar] [--limit N]
        [--only NAME ...] [--model WEIGHTS] [--fast]

The held-out people of ``youtube-faces-68`` (``--data``, default
``$VIDKEYS_DATA``), each image changed by one condition at a time, labels
moved with the image: rolled 15 / 30 / 45 degrees (canvas grown and padded by
replication, nothing cut), shrunk to a face about 40 px wide, horizontal
motion blur (kernel 12 % of the face width), dark (gamma 2.2, contrast x0.35,
Gaussian noise sigma 6), a dark bar over mouth and chin, JPEG quality 12; and
shrunk to a 24 or 40 px face placed at random in a 640x360 frame (small
faces in video).
For each: faces missed by vidkeys' face search (``--detector``), NME (% of the
outer-eye-corner distance) of the faces found, failures (NME > 10 % or
missed), and the rank correlation of the CSV's confidence with NME; then the
same with crops from the labels (oracle boxes: the CNN alone). Points are
placed as ``vidkeys eval --boxes search`` places them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from vidkeys.config import DetectorConfig
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.keypoints.regions import shared_refiner
from vidkeys.training.conditions import CONDITIONS, apply
from vidkeys.training.data import held_out_people
from vidkeys.training.evaluate import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("VIDKEYS_DATA"))
    parser.add_argument("--detector", default=DetectorConfig.detector, choices=("yunet", "haar"))
    parser.add_argument("--limit", type=int, default=0, help="images (0: all held-out)")
    parser.add_argument("--only", nargs="*", default=None, help="conditions to run")
    parser.add_argument("--model", type=Path, default=None, help="weights (default: shipped)")
    parser.add_argument("--fast", action="store_true", help="no mirror test")
    parser.add_argument(
        "--no-regions", action="store_true", help="the face network's eyes and mouth as they are"
    )
    args = parser.parse_args()
    if args.data is None:
        raise SystemExit("error: give --data DIR or set VIDKEYS_DATA")
    samples, images = held_out_people(args.data, args.limit)
    predictor = KeypointPredictor(args.model, "cpu", mirror_test=not args.fast)
    refiner = None if args.no_regions else shared_refiner()
    print(f"{len(samples)} held-out faces; face search: {args.detector}")
    print(
        f"{'condition':14s} {'missed':>7s} {'NME':>6s} {'fail':>6s} {'rho':>6s}"
        f"   oracle: {'NME':>6s} {'fail':>6s} {'rho':>6s}"
    )
    for name, condition in CONDITIONS.items():
        if args.only and name not in args.only:
            continue
        rng = np.random.default_rng(0)
        ims, labels = apply(condition, images, samples, rng)
        found = measure(predictor, ims, labels, "search", args.detector, regions=refiner)
        oracle = measure(predictor, ims, labels, "oracle", regions=refiner)
        print(
            f"{name:14s} {100 * found['missed'] / found['n']:6.1f}% "
            f"{100 * found['nme_mean']:5.2f}% {100 * found['failure_rate']:5.1f}% "
            f"{found['conf_nme_spearman']:+.2f}   oracle: {100 * oracle['nme_mean']:5.2f}% "
            f"{100 * oracle['failure_rate']:5.1f}% {oracle['conf_nme_spearman']:+.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Jitter on a still face: points and head pose, smoothing off and on.

    python benchmarks/bench_jitter.py [--frames 100] [--sigma 3]

The shipped sample photo repeated with fresh Gaussian noise on every frame:
nothing moves, so every change in the output is jitter. Points: the
per-point standard deviation over time, as a share of the outer-eye-corner
distance: after 20 frames (when the filter has settled) and over all frames,
the first included (a crop that settles late shows there). Pose: the
standard deviation of pitch, yaw and roll, in degrees.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

import vidkeys
from vidkeys.config import PipelineConfig, TrackerConfig

PHOTO = Path(__file__).resolve().parent.parent / "samples" / "astronaut.png"
SETTLE = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--sigma", type=float, default=3.0, help="noise, grey levels")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    photo = cv2.imread(str(PHOTO)).astype(np.float32)
    frames = [
        np.clip(photo + rng.normal(0, args.sigma, photo.shape), 0, 255).astype(np.uint8)
        for _ in range(args.frames)
    ]
    print(
        f"{'smoothing':10} {'points, settled':>16} {'points, all frames':>19}"
        f" {'pitch/yaw/roll std (deg)':>26}"
    )
    for smooth in (False, True):
        cfg = PipelineConfig(device="cpu", tracker=TrackerConfig(smooth=smooth))
        results = [r.faces for r in vidkeys.process(frames, cfg)]
        points = np.stack([f.points[0] for f in results])
        rotation = np.stack([f.rotation[0] for f in results])[SETTLE:]
        iod = np.linalg.norm(points[:, 36] - points[:, 45], axis=1).mean()
        settled, every = (
            np.linalg.norm(p.std(axis=0), axis=1).mean() / iod for p in (points[SETTLE:], points)
        )
        angles = " / ".join(f"{v:.3f}" for v in np.degrees(rotation.std(axis=0)))
        print(
            f"{'on' if smooth else 'off':10} {100 * settled:>15.3f}% {100 * every:>18.3f}%"
            f" {angles:>26}"
        )


if __name__ == "__main__":
    main()

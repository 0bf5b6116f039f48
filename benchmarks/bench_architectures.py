"""CNN speed of candidate architectures in ONNX Runtime, before training any of them.

    python benchmarks/bench_architectures.py [--seconds 2] [--threads N] [--mirror-test]

Needs the ``train`` extra (torch builds the networks). Each candidate is saved
untrained to a temporary folder (weights and ONNX graph) and timed at batch
32 as :mod:`vidkeys.predictor` serves it; a network's cost does not depend on
its weights. Accuracy has to come from training: see saved_models/README.md.
Single passes unless ``--mirror-test`` (the default when serving: each crop
and its mirror image, about 2.2-2.4 times the CNN time).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from vidkeys.network import KeypointNet, ModelConfig, save_model
from vidkeys.predictor import KeypointPredictor

CANDIDATES = {
    "previous (16,32,64,128), 96 px, 1/8": ModelConfig(),
    "widths x1.5 (24,48,96,192), 96 px": ModelConfig(widths=(24, 48, 96, 192)),
    "1/4-resolution heatmaps": ModelConfig(up_levels=2),
    "widths x1.5, 112 px crops: shipped": ModelConfig(widths=(24, 48, 96, 192), crop_size=112),
    "widths x2 (32,64,128,256)": ModelConfig(widths=(32, 64, 128, 256)),
    "widths x1.5, 1/4 heatmaps, decoder 48": ModelConfig(
        widths=(24, 48, 96, 192), up_levels=2, decoder=48
    ),
    # Inverted residuals (MobileNetV2) in place of the plain stages, 112 px (session 9)
    **{
        f"inverted, expand {e}, widths x{w[0] / 16:g}, 112 px": ModelConfig(
            widths=w, crop_size=112, block="inverted", expand=e
        )
        for e, w in (
            (1, (24, 48, 96, 192)),
            (2, (24, 48, 96, 192)),
            (4, (24, 48, 96, 192)),
            (2, (32, 64, 128, 256)),
            (1, (48, 96, 192, 384)),
        )
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--mirror-test", action="store_true", help="serve with the mirror test")
    args = parser.parse_args()
    print(f"{'candidate':42} {'parameters':>10} {'faces/s @32':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, cfg) in enumerate(CANDIDATES.items()):
            model = KeypointNet(cfg).eval()
            path = Path(tmp) / f"m{i}.pt"
            save_model(model, path)
            predictor = KeypointPredictor(path, "cpu", args.threads, mirror_test=args.mirror_test)
            size = predictor.crop_size
            crops = np.random.default_rng(0).integers(0, 256, (32, size, size), dtype=np.uint8)
            for _ in range(3):
                predictor(crops)
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < args.seconds:
                predictor(crops)
                n += 32
            params = sum(p.numel() for p in model.parameters())
            rate = n / (time.perf_counter() - start)
            print(f"{name:42} {params:>10,} {rate:>12,.0f}")


if __name__ == "__main__":
    main()

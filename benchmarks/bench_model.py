"""CNN-only speed: faces per second at batch 1, 2, 32 and 256, CPU (and CUDA if present).

    python benchmarks/bench_model.py [--weights PATH] [--seconds 3] [--threads N]
        [--no-mirror-test]

Crops are random; the network's cost does not depend on their content.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vidkeys.keypoints.predictor import KeypointPredictor, cuda_available


def faces_per_second(predictor: KeypointPredictor, batch: int, seconds: float) -> float:
    size = predictor.crop_size
    crops = np.random.default_rng(0).integers(0, 256, (batch, size, size), dtype=np.uint8)
    for _ in range(3):  # warm-up: allocator, oneDNN kernel choice, CUDA context
        predictor(crops)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        predictor(crops)
        n += batch
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="weights file (default: shipped)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    parser.add_argument("--no-mirror-test", dest="mirror_test", action="store_false")
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if cuda_available() else [])
    mirror = "mirror test" if args.mirror_test else "no mirror test"
    print(f"CPU: ONNX Runtime, {args.threads or 'all'} threads, {mirror}")
    print(f"{'device':8} {'batch':>6} {'faces/s':>10} {'ms/batch':>10}")
    for device in devices:
        predictor = KeypointPredictor(args.weights, device, args.threads, args.mirror_test)
        for batch in (1, 2, 32, 256):
            fps = faces_per_second(predictor, batch, args.seconds)
            print(f"{device:8} {batch:>6} {fps:>10.0f} {1000 * batch / fps:>10.2f}")


if __name__ == "__main__":
    main()

"""``--device cuda``: the network in PyTorch on the GPU gives what ONNX Runtime gives on
the CPU with the weights' 32-bit graph (the shipped graph is 8-bit, which moves points by
about a tenth of a pixel). Skipped where no CUDA GPU is present (CI has none).

This module imports neither video code nor the Haar cascade, so it also runs on a GPU
machine without PyAV or with OpenCV 5:
``python -m pytest --noconftest tests/test_cuda.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidkeys.faces.crop import cut_faces
from vidkeys.keypoints.predictor import KeypointPredictor, cuda_available
from vidkeys.keypoints.weights import DEFAULT_WEIGHTS

pytestmark = pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU here")

PHOTO = Path(__file__).resolve().parent.parent / "samples" / "astronaut.png"


def _crops(size: int) -> np.ndarray:
    """The sample photo's face, slightly shifted copies of it, and noise crops."""
    image = cv2.imread(str(PHOTO), cv2.IMREAD_GRAYSCALE)
    box = np.array([176.0, 64.0, 97.6, 97.6])  # the face, as Haar boxes it here
    shifted = [box + np.array([dx, dy, 0.0, 0.0]) for dx in (-4, 0, 4) for dy in (-4, 0, 4)]
    faces, _ = cut_faces([image] * len(shifted), shifted, size)
    noise = np.random.default_rng(0).integers(0, 256, (5, size, size), dtype=np.uint8)
    return np.concatenate([faces, noise])


def test_cuda_points_match_the_cpu_graph(tmp_path: Path) -> None:
    from vidkeys.keypoints.network import rewrite_graph

    weights = tmp_path / DEFAULT_WEIGHTS.name
    shutil.copy(DEFAULT_WEIGHTS, weights)
    rewrite_graph(weights)  # the 32-bit graph
    cpu = KeypointPredictor(weights, device="cpu")
    gpu = KeypointPredictor(weights, device="cuda")
    assert gpu.device == "cuda" and gpu.crop_size == cpu.crop_size
    crops = _crops(cpu.crop_size)
    cpu_points, cpu_score, cpu_conf = cpu(crops)
    gpu_points, gpu_score, gpu_conf = gpu(crops)
    # cuDNN may run the convolutions in TF32: a few hundredths of a pixel.
    np.testing.assert_allclose(gpu_points, cpu_points, atol=0.1)
    np.testing.assert_allclose(gpu_score, cpu_score, atol=2e-3)
    np.testing.assert_allclose(gpu_conf, cpu_conf, atol=2e-3)
    # Batches of any size give the same answers as one call.
    split_points = gpu(crops, batch_size=4)[0]
    np.testing.assert_allclose(split_points, gpu_points, atol=0.05)

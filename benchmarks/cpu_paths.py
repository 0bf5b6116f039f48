"""The 8-bit graph on a CPU without VNNI: its answers there against this CPU's.

    python benchmarks/cpu_paths.py [--cpu Haswell] [--model PATH.pt]
        (needs qemu-user: apt install qemu-user; VIDKEYS_DATA adds the held-out faces)

ONNX Runtime multiplies the 8-bit graph's numbers with the CPU's best
instructions: VNNI where there is VNNI (this project's machine), else AVX2's,
which add pairs of 8-bit products in 16 bits and can overflow; the shipped
graph's 7-bit weights are meant to rule that out. This runs the served
predictor (one thread, mirror test, shape correction) on the same crops here
and under ``qemu-x86_64 -cpu CPU``, whose emulated CPU (Haswell: AVX2, no
AVX-512, no VNNI) makes ONNX Runtime choose its other kernels, and prints how
far the answers move, with the 32-bit graph's distance for scale. Emulation
says nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from vidkeys.crop import cut_faces
from vidkeys.haar import HaarDetector
from vidkeys.predictor import KeypointPredictor, default_weights, onnx_path

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "astronaut.png"


def crops(size: int) -> np.ndarray:
    """The sample photo's face, shifted and scaled; the held-out faces when VIDKEYS_DATA is set."""
    gray = cv2.imread(str(SAMPLE), cv2.IMREAD_GRAYSCALE)
    x, y, w, h = HaarDetector()(gray)[0]
    boxes = [
        np.array([x + dx * w, y + dy * h, w * s, h * s])
        for dx in (-0.06, 0, 0.06)
        for dy in (-0.06, 0, 0.06)
        for s in (0.9, 1.0, 1.1)
    ]
    faces, _ = cut_faces([gray] * len(boxes), boxes, size)
    data = os.environ.get("VIDKEYS_DATA")
    if data:
        from vidkeys.training.data import held_out_faces

        csv = Path(data) / "training_frames_keypoints.csv"
        _, images, found = held_out_faces(csv, Path(data) / "training")
        hit = [i for i, b in enumerate(found) if b is not None]
        held, _ = cut_faces([images[i] for i in hit], [found[i] for i in hit], size)
        faces = np.concatenate([faces, held])
    return faces


def answers(graph: Path, crops_file: Path, out: Path) -> None:
    """Worker: the served predictor's answers for the crops, one thread."""
    points, score, confidence = KeypointPredictor(graph, "cpu", threads=1)(np.load(crops_file))
    np.savez(out, points=points, score=score, confidence=confidence)


def run(graph: Path, crops_file: Path, out: Path, emulate: list[str]) -> dict[str, np.ndarray]:
    """The worker's answers, run here or under the emulator ``emulate``."""
    worker = [sys.executable, __file__, "--worker", str(graph), str(crops_file), str(out)]
    subprocess.run([*emulate, *worker], check=True, stderr=subprocess.DEVNULL)
    with np.load(out) as z:
        return dict(z)


def distance(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> str:
    eye = np.linalg.norm(a["points"][:, 45] - a["points"][:, 36], axis=1)
    moved = np.linalg.norm(a["points"] - b["points"], axis=2)
    share = 100 * moved.mean(axis=1) / eye
    return (
        f"points {moved.mean():.4f} px on average ({share.mean():.3f} % of the eye distance; "
        f"worst face {share.max():.3f} %), {moved.max():.4f} px at most; "
        f"face score {np.abs(a['score'] - b['score']).max():.4f}, "
        f"point confidence {np.abs(a['confidence'] - b['confidence']).max():.4f} at most"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", default="Haswell", help="qemu's CPU model (qemu-x86_64 -cpu help)")
    parser.add_argument("--model", type=Path, default=None, help="weights .pt (default: shipped)")
    parser.add_argument("--worker", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        answers(*args.worker)
        return
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        sys.exit("error: qemu-x86_64 not found; install qemu-user (Debian: apt install qemu-user)")
    from vidkeys.network import rewrite_graph  # torch: not in the emulated workers

    weights = args.model or default_weights()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        full = work / "f32" / weights.name
        full.parent.mkdir()
        shutil.copy(weights, full)
        graph32 = rewrite_graph(full)
        faces = crops(KeypointPredictor(onnx_path(weights), "cpu").crop_size)
        np.save(work / "crops.npy", faces)
        emulated = [qemu, "-cpu", args.cpu]
        here = run(onnx_path(weights), work / "crops.npy", work / "here.npz", [])
        there = run(onnx_path(weights), work / "crops.npy", work / "there.npz", emulated)
        f32 = run(graph32, work / "crops.npy", work / "f32.npz", [])
    print(f"{len(faces)} crops, {onnx_path(weights)}, mirror test and correction as served")
    print(f"this CPU against qemu -cpu {args.cpu}: {distance(here, there)}")
    print(f"this CPU against its 32-bit graph, for scale: {distance(here, f32)}")


if __name__ == "__main__":
    main()

"""Small faces' points and ``success``, against the same frames at full size.

    python benchmarks/bench_small_faces.py CLIP_OR_DIR ... [--width 24] [--frames 40]

Every third frame of each clip (up to ``--frames``) runs through the pipeline
twice: at full size, and shrunk so the main face is ``--width`` px wide,
centred on a flat noisy 640x360 ground. The full-size points, shrunk the same
way, are the truth (their own error, about 4 % of the eye distance on
held-out people, is small beside a 24 px face's). Per clip: the share of
frames whose small face is found, the median NME (of the outer-eye-corner
distance), the share usable (NME <= 8 %), and ``success`` 1 among the usable
and among the rest: the confidence should keep usable small faces.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_reference import clips_of

import vidkeys
from vidkeys.io.sources import open_source

USABLE = 0.08
GROUND = (360, 640)


def frames_of(clip: Path, count: int) -> list[np.ndarray]:
    with open_source(clip) as source:
        out = [f.image for i, f in enumerate(source) if i % 3 == 0]
    return out[:count]


def shrink(frame: np.ndarray, scale: float, ground: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` shrunk by ``scale`` and centred on ``ground``; the offset it was put at."""
    small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    gh, gw = ground.shape[:2]
    x0, y0 = (gw - w) // 2, (gh - h) // 2
    out = ground.copy()
    sx, sy = max(0, -x0), max(0, -y0)
    part = small[sy : sy + gh, sx : sx + gw]
    out[max(0, y0) : max(0, y0) + part.shape[0], max(0, x0) : max(0, x0) + part.shape[1]] = part
    return out, np.array([x0, y0], np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--width", type=float, default=24.0, help="small face width, px")
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ground = np.clip(rng.normal(90, 6, (*GROUND, 3)), 0, 255).astype(np.uint8)
    print(f"{'clip':12s} {'found':>6s} {'NME':>6s} {'usable':>6s} {'succ|ok':>7s} {'succ|bad':>8s}")
    every_nme, every_conf = [], []
    for clip in clips_of(args.paths):
        frames = frames_of(clip, args.frames)
        full = [r.faces for r in vidkeys.process(frames)]
        widths = [f.boxes[0, 2] for f in full if len(f) == 1]
        if not widths:
            continue
        scale = args.width / float(np.median(widths))
        shrunk = [shrink(f, scale, ground) for f in frames]
        small = [r.faces for r in vidkeys.process([s for s, _ in shrunk])]
        nmes, confs = [], []
        for big, little, (_, offset) in zip(full, small, shrunk, strict=True):
            if len(big) != 1:
                continue
            truth = big.points[0] * scale + offset
            iod = np.linalg.norm(truth[36] - truth[45])
            if not len(little):
                nmes.append(np.nan)
                confs.append(0.0)
                continue
            centres = little.boxes[:, :2] + little.boxes[:, 2:4] / 2
            k = int(np.argmin(np.linalg.norm(centres - truth.mean(axis=0), axis=1)))
            nmes.append(np.linalg.norm(little.points[k] - truth, axis=1).mean() / iod)
            confs.append(float(little.confidence[k]))
        row(clip.stem, np.array(nmes), np.array(confs))
        every_nme += nmes
        every_conf += confs
    row("all", np.array(every_nme), np.array(every_conf))


def row(name: str, nme: np.ndarray, conf: np.ndarray) -> None:
    found = np.isfinite(nme)
    ok = found & (nme <= USABLE)
    bad = found & ~ok

    def share(mask: np.ndarray) -> str:
        return f"{100 * np.mean(conf[mask] >= 0.5):.0f} %" if mask.any() else "-"

    median = f"{100 * np.median(nme[found]):.1f}" if found.any() else "-"
    print(
        f"{name:12s} {100 * found.mean():5.0f}% {median:>6s} {100 * ok.mean():5.0f}%"
        f" {share(ok):>7s} {share(bad):>8s}"
    )


if __name__ == "__main__":
    main()

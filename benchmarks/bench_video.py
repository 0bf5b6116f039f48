"""End-to-end speed of `export-csv` / `annotate`: fps, time per stage, peak memory.

    python benchmarks/bench_video.py [VIDEO] [--mode export|annotate]
        [--detect-every N] [--detect-width W] [--no-smooth] [--compare-full]

VIDEO defaults to samples/astronaut.mp4. ``--compare-full`` also runs Haar on
every full-size frame and reports the share of those faces the fast settings
find (a face counts as found when a box of ours overlaps it, IoU >= 0.3).
Peak RSS is the process's high-water mark (run once per process to compare
inputs of different lengths).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

import cv2

from vidkeys.config import DetectorConfig, PipelineConfig, TrackerConfig
from vidkeys.faces.haar import HaarDetector
from vidkeys.faces.track import iou
from vidkeys.io.sources import FrameSource
from vidkeys.jobs import annotate_file, export_file
from vidkeys.pipeline import VideoRun

REPO = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """High-water resident memory of this process, MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def recall_vs_full_haar(video: Path, cfg: PipelineConfig, limit: int = 300) -> float:
    """Share of faces found by Haar on every full frame that the pipeline also finds."""
    full = HaarDetector(DetectorConfig(detect_width=None))
    ours = iter(VideoRun(video, cfg))
    found = total = 0
    with FrameSource(video, gray=True) as source:
        for frame, result in zip(source, ours, strict=False):
            if frame.index >= limit:
                break
            truth = full(frame.gray)
            total += len(truth)
            if len(truth) and len(result.faces):
                found += int((iou(truth, result.faces.boxes).max(axis=1) >= 0.3).sum())
    return found / total if total else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", type=Path, default=REPO / "samples" / "astronaut.mp4")
    parser.add_argument("--mode", choices=["export", "annotate"], default="export")
    parser.add_argument("--detect-every", type=int, default=PipelineConfig().detect_every)
    parser.add_argument("--detect-width", type=int, default=0, help="0: auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-smooth", action="store_true")
    parser.add_argument("--cnn-threads", type=int, default=1)
    parser.add_argument("--compare-full", action="store_true")
    args = parser.parse_args()
    cfg = PipelineConfig(
        detector=DetectorConfig(detect_width=args.detect_width or None),
        tracker=TrackerConfig(smooth=not args.no_smooth),
        detect_every=args.detect_every,
        device=args.device,
        cnn_threads=args.cnn_threads,
    )
    cv2.setNumThreads(2)
    with tempfile.TemporaryDirectory() as tmp:
        if args.mode == "export":
            summary = export_file(args.video, Path(tmp) / "k.csv", config=cfg)
        else:
            out = Path(tmp) / "a.mp4"
            summary = annotate_file(args.video, out, Path(tmp) / "k.csv", cfg)
    stages = summary.stages
    info = FrameSource(args.video).info
    print(f"input      {args.video.name}: {info.width}x{info.height}, {summary.frames} frames")
    print(f"mode       {args.mode}, detect every {args.detect_every}, width {args.detect_width}")
    print(f"speed      {summary.fps:.1f} fps end to end ({summary.seconds:.2f} s)")
    print(f"faces      {summary.faces} ({summary.faces / max(summary.frames, 1):.2f} per frame)")
    total = sum(stages.values())
    for name, secs in sorted(stages.items(), key=lambda kv: -kv[1]):
        ms = 1000 * secs / max(summary.frames, 1)
        print(f"  {name:8} {ms:7.2f} ms/frame  {100 * secs / total:5.1f} %")
    print(f"peak RSS   {peak_rss_mb():.0f} MB")
    if args.compare_full:
        share = recall_vs_full_haar(args.video, cfg)
        print(f"recall     {100 * share:.1f} % of the faces Haar finds on every full frame")


if __name__ == "__main__":
    main()

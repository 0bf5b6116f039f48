"""Recall, precision, new-face latency and identity switches on real clips, both detectors.

    python benchmarks/bench_recall.py [--videos DIR] [--only NAME ...] [--repeat N]
        [--detectors yunet haar] [-- EXTRA CLI OPTIONS, e.g. --detect-every 1]

Runs the whole command ``vidkeys export-csv CLIP --detector D`` (start-up
included) for each detector on every clip of ``DIR`` (default
``$VIDKEYS_VIDEOS``) that has ``truth/NAME.json``, scores its CSV with
:mod:`vidkeys.truth` and prints one row per clip and detector, side by side,
and a total per detector. ``succ`` is the share of frontal faces found with
``success`` 1 (points marked trustworthy). fps is frames / wall time of the
command, best of ``--repeat`` runs;
``cpu ms`` the CPU time (both cores, start-up included) per frame, which a
busy shared machine disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vidkeys.truth import Found, Score, load_truth, score_run

N_POINTS = 68


def read_found(path: Path) -> dict[int, list[Found]]:
    """The faces of a vidkeys CSV, by frame index: every tracked face, whatever
    its ``success`` (0 marks points not to be trusted, not a missing face; it is
    kept to count the found faces whose points are marked trustworthy)."""
    frames: dict[int, list[Found]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f, skipinitialspace=True):
            xs = np.array([float(row[f"x_{i}"]) for i in range(N_POINTS)])
            ys = np.array([float(row[f"y_{i}"]) for i in range(N_POINTS)])
            box = np.array([float(row[k]) for k in ("box_x", "box_y", "box_w", "box_h")])
            centre = np.array([xs.mean(), ys.mean()])
            success = float(row["success"]) >= 0.5
            found = Found(int(float(row["face_id"])), box, centre, success)
            frames.setdefault(int(float(row["frame"])), []).append(found)
    return frames


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_clip(
    clip: Path, extra: list[str], repeat: int
) -> tuple[dict[int, list[Found]], float, float]:
    """Export a clip's CSV with the CLI; return its faces, the best wall time and
    the CPU time of one run (both cores; steadier than wall time on a shared machine)."""
    vidkeys = Path(sys.executable).with_name("vidkeys")
    best = float("inf")
    cpu0 = children_cpu()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.csv"
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run(
                [str(vidkeys), "export-csv", str(clip), "-o", str(out), "--quiet", *extra],
                check=True,
            )
            best = min(best, time.perf_counter() - t0)
        return read_found(out), best, (children_cpu() - cpu0) / repeat


def pct(x: float) -> str:
    return "  -  " if np.isnan(x) else f"{100 * x:5.1f}"


def row(name: str, s: Score, frames: int, seconds: float, cpu: float) -> str:
    lat = s.latencies
    latency = f"{np.median(lat):4.1f}/{max(lat):3d}" if lat else "   -/  -"
    bins = " ".join(pct(s.bin_recall(k)) for k in range(3))
    fps = frames / seconds if seconds else float("nan")
    return (
        f"{name:24s} {pct(s.recall)} {pct(s.frontal_recall)} {pct(s.frontal_success_rate)}"
        f"  {bins}  {pct(s.precision)}"
        f"  {latency} {s.never:5d} {s.switches:8d} {fps:7.1f} {1000 * cpu / frames:7.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=os.environ.get("VIDKEYS_VIDEOS"))
    parser.add_argument("--only", nargs="*", default=None, help="clip names (no extension)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per clip (best)")
    parser.add_argument("--detectors", nargs="+", default=["yunet", "haar"])
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    if args.videos is None:
        sys.exit("error: give --videos DIR or set VIDKEYS_VIDEOS")
    clips = sorted(
        p
        for p in args.videos.iterdir()
        if p.is_file() and (args.videos / "truth" / f"{p.stem}.json").is_file()
    )
    if args.only:
        clips = [c for c in clips if c.stem in args.only]
    print(f"vidkeys export-csv --detector D {' '.join(extra)}".rstrip())
    print(
        f"{'clip':24s} {'all':>5s} {'front':>5s} {'succ':>5s}"
        f"  {'<40':>5s} {'40-80':>5s} {'>80':>5s}"
        f"  {'prec':>5s}  {'lat med/max':>8s} {'never':>5s} {'switches':>8s}"
        f" {'fps':>7s} {'cpu ms':>7s}"
    )
    totals = {d: (Score(), 0, 0.0, 0.0) for d in args.detectors}
    for clip in clips:
        truth = load_truth(args.videos / "truth" / f"{clip.stem}.json")
        for detector in args.detectors:
            found, seconds, cpu = run_clip(clip, ["--detector", detector, *extra], args.repeat)
            score = score_run(found, truth)
            print(row(f"{clip.stem} ({detector})", score, len(truth), seconds, cpu), flush=True)
            total, frames, secs, cpus = totals[detector]
            totals[detector] = (total + score, frames + len(truth), secs + seconds, cpus + cpu)
    for detector, (total, frames, secs, cpus) in totals.items():
        print(row(f"total ({detector})", total, frames, secs, cpus))


if __name__ == "__main__":
    main()

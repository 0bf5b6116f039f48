"""Aligned faces: `export-faces`' speed against `export-csv`'s, and where the eyes land.

    python benchmarks/bench_faces.py speed CLIP [--runs 3] [-- EXPORT-FACES OPTIONS]
    python benchmarks/bench_faces.py eyes [FOLDER ...]
    python benchmarks/bench_faces.py openface [CSV]

``speed`` runs ``vidkeys export-csv CLIP`` and ``vidkeys export-faces CLIP``
(default options, or those after ``--``) one after the other, ``--runs``
times, each a whole command in its own process, and prints each run's wall
and CPU seconds and the ratio of export-faces' speed to export-csv's (the
first's time over the second's) per pair and over the medians. Alternating
pairs keep a shared machine's load alike for both.

``eyes`` runs the pipeline over every clip in the folders (default
``$VIDKEYS_VIDEOS``) and, for every face with ``success`` 1, maps its points
into the 112 px aligned image (:func:`vidkeys.outputs.align.similarity`) and
measures how far each eye centre (the mean of its six points) lands from the
template's: the share of faces with both within 2 px, and the 95th
percentile, per clip and over all; then the same with the 15 fitted points
weighted alike (no weight on the eyes), for comparison.

``openface`` compares the template with OpenFace's own aligned frame: in an
OpenFace 2 CSV (default ``$VIDKEYS_OPENFACE/OpenFace_Test.csv``) each frame's
3D points are turned frontal by its head pose (``R^T (P - T)``: OpenFace's
shape in its model's mm), and put where ``-simalign`` puts its mean shape:
x, y at 0.7 px a mm about the centre of a 112 px image. It prints where the
eye centres, nose tip, mouth corners and chin land on average, beside the
template's.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vidkeys.faces.crop import apply_matrix, fit_similarity
from vidkeys.io.sources import IMAGE_EXTS, VIDEO_EXTS
from vidkeys.keypoints.confidence import SUCCESS_THRESHOLD
from vidkeys.keypoints.pose import euler_to_matrix
from vidkeys.outputs.align import PIXELS_PER_MM, SIZE, STABLE_POINTS, similarity, template
from vidkeys.pipeline import process

#: How far (px, at 112 px) an eye may land from the template's and count as on it.
TOLERANCE = 2.0


def _command(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one vidkeys command in its own process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vidkeys.cli", *args], check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def speed(clip: Path, runs: int, extra: list[str]) -> None:
    csv_times, faces_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            csv_wall, csv_cpu = _command(["export-csv", str(clip), "-o", f"{tmp}/k.csv", "-q"])
            out = f"{tmp}/faces{run}"
            faces_wall, faces_cpu = _command(["export-faces", str(clip), "-o", out, "-q", *extra])
            images = len(os.listdir(out)) - 1
            csv_times.append(csv_wall)
            faces_times.append(faces_wall)
            print(
                f"run {run + 1}: export-csv {csv_wall:.2f} s ({csv_cpu:.2f} s CPU), "
                f"export-faces {faces_wall:.2f} s ({faces_cpu:.2f} s CPU, {images} images): "
                f"{csv_wall / faces_wall:.2f}x"
            )
    ratio = statistics.median(csv_times) / statistics.median(faces_times)
    print(f"{clip.name}: export-faces at {ratio:.2f}x export-csv's speed (medians, {runs} runs)")


def _eye_errors(points: np.ndarray, matrix: np.ndarray, tpl: np.ndarray) -> float:
    """The farther of the two eye centres from the template's, px."""
    moved = apply_matrix(matrix, points)
    return max(
        float(np.linalg.norm(moved[eye].mean(axis=0) - tpl[eye].mean(axis=0)))
        for eye in (slice(36, 42), slice(42, 48))
    )


def eyes(folders: list[Path]) -> None:
    tpl = template(SIZE)
    stable = list(STABLE_POINTS)
    weighted: list[float] = []
    alike: list[float] = []

    def line(name: str, errors: list[float]) -> str:
        e = np.array(errors)
        within = 100 * float(np.mean(e <= TOLERANCE)) if len(e) else float("nan")
        p95 = float(np.percentile(e, 95)) if len(e) else float("nan")
        return (
            f"{name:24} {len(e):6d} faces  {within:5.1f} % within {TOLERANCE:g} px  p95 {p95:.2f}"
        )

    for folder in folders:
        clips = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTS | IMAGE_EXTS)
        for clip in clips:
            errors = []
            for frame in process(clip):
                faces = frame.faces
                for pts in faces.points[faces.confidence >= SUCCESS_THRESHOLD]:
                    errors.append(_eye_errors(pts, similarity(pts), tpl))
                    alike.append(_eye_errors(pts, fit_similarity(pts[stable], tpl[stable]), tpl))
            weighted += errors
            print(line(clip.name, errors), flush=True)
    print(line("all, eyes weighted", weighted))
    print(line("all, 15 points alike", alike))


def openface(path: Path) -> None:
    with path.open() as f:
        rows = list(csv.DictReader(f, skipinitialspace=True))
    shapes = []
    for r in rows:
        p3d = np.array([[float(r[f"{a}_{i}"]) for i in range(68)] for a in "XYZ"])
        t = np.array([float(r[f"pose_T{a}"]) for a in "xyz"])
        rot = euler_to_matrix(np.array([float(r[f"pose_R{a}"]) for a in "xyz"]))
        shapes.append((rot.T @ (p3d - t[:, None]))[:2].T)
    theirs = np.mean(shapes, axis=0) * PIXELS_PER_MM + SIZE / 2
    ours = template(SIZE)
    print(f"{path.name}: {len(rows)} frames; OpenFace's aligned frame against the template (px)")
    for name, idx in (
        ("right eye centre", slice(36, 42)),
        ("left eye centre", slice(42, 48)),
        ("nose tip", [30]),
        ("mouth corner 48", [48]),
        ("mouth corner 54", [54]),
        ("chin", [8]),
    ):
        a, b = theirs[idx].mean(axis=0), ours[idx].mean(axis=0)
        print(
            f"  {name:16} OpenFace ({a[0]:5.1f}, {a[1]:5.1f})  template ({b[0]:5.1f}, {b[1]:5.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    s = modes.add_parser("speed", help="export-faces against export-csv on one clip")
    s.add_argument("clip", type=Path)
    s.add_argument("--runs", type=int, default=3)
    s.add_argument("extra", nargs="*", help="export-faces options (after --)")
    e = modes.add_parser("eyes", help="where the aligned eyes land, on real clips")
    e.add_argument("folders", nargs="*", type=Path)
    o = modes.add_parser("openface", help="the template against OpenFace's aligned frame")
    o.add_argument("csv", nargs="?", type=Path)
    args = parser.parse_args()
    if args.mode == "speed":
        speed(args.clip, args.runs, args.extra)
        return
    if args.mode == "openface":
        default = Path(os.environ.get("VIDKEYS_OPENFACE", ".")) / "OpenFace_Test.csv"
        openface(args.csv or default)
        return
    folders = args.folders or (
        [Path(os.environ["VIDKEYS_VIDEOS"])] if "VIDKEYS_VIDEOS" in os.environ else []
    )
    if not folders:
        parser.error("give folders of clips, or set VIDKEYS_VIDEOS")
    eyes(folders)


if __name__ == "__main__":
    main()

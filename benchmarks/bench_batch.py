"""Batch throughput: videos per minute and frames per second, 1 vs N workers, local vs Ray.

    python benchmarks/bench_batch.py [FOLDER] [--videos 8] [--seconds 4] [--workers N]

Without FOLDER, makes that many 640x360 one-face clips (benchmarks/make_video.py)
in a temporary folder. Each configuration runs with ``--force`` into its own
output folder, ``--csv-only`` (the pipeline, not the encoder, is measured).
Ray runs twice: "ray" starts a local Ray instance inside the timed run (as
``vidkeys batch --engine ray`` does); "ray-up" joins one started beforehand,
as on a cluster, so its figure is the steady-state throughput.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

from make_video import make_video  # benchmarks/ is on sys.path when run as a script

from vidkeys.batch.driver import run_batch
from vidkeys.config import PipelineConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder
        if folder is None:
            folder = Path(tmp) / "videos"
            folder.mkdir()
            for k in range(args.videos):
                make_video(folder / f"clip{k:02d}.mp4", 640, 360, 1, args.seconds)
        runs = [("local", 1), ("local", args.workers)]
        if importlib.util.find_spec("ray") is not None:
            runs += [("ray", args.workers), ("ray-up", args.workers)]
        print(f"{'engine':8} {'workers':>7} {'videos/min':>11} {'frames/s':>9} {'seconds':>8}")
        for engine, workers in runs:
            out = Path(tmp) / f"out-{engine}-{workers}"
            cfg = PipelineConfig(device="cpu")
            if engine == "ray-up":
                import ray

                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            start = time.perf_counter()
            result = run_batch(
                [str(folder)],
                out,
                cfg,
                csv_only=True,
                workers=workers,
                engine="ray" if engine == "ray-up" else engine,
                force=True,
                quiet=True,
            )
            secs = time.perf_counter() - start
            if engine == "ray-up":
                ray.shutdown()
            print(
                f"{engine:8} {workers:>7} {60 * result.done / secs:>11.1f} "
                f"{result.frames / secs:>9.1f} {secs:>8.1f}"
            )


if __name__ == "__main__":
    main()

"""Batch under kills: a clean run against one killed at random moments and resumed.

    python benchmarks/bench_faults.py [--clips 50] [--workers 2] [--kills 5] [--seed 0]

Makes ``--clips`` short 320x240 clips (1 s each, one drifting face), runs
``vidkeys batch`` on them once undisturbed, then again into another folder,
killing it ``--kills`` times at random moments (once a random few more inputs
are recorded, plus up to 0.5 s) and resuming after each kill; the kills
alternate ``kill -9`` of the whole process group and of the driver only, and
the last one kills one worker (the batch goes on after that one).

Checks, and prints: every input ends ``done``, every output (CSV and
annotated video) is byte-identical to the clean run's, no ``.part`` file is
left, and no process of a killed run outlives it (orphan workers). Exits 1 if
any check fails. A second clean run is compared too, as the baseline (where
videos differ, the largest pixel difference is printed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
MODES = ("group", "driver", "worker")


def make_clip(path: Path, frames: int, shift: int) -> None:
    photo = cv2.resize(cv2.imread(str(REPO / "samples" / "astronaut.png")), (240, 240))
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        for i in range(frames):
            img = np.full((240, 320, 3), 50, np.uint8)
            x = 20 + (shift + i) % 60
            img[:, x : x + 240] = photo[:, : min(240, 320 - x)]
            out.mux(s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(s.encode())


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == pid:
                    found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def command(inputs: Path, out: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "vidkeys.cli", "batch", str(inputs), "-o", str(out)]


def run(inputs: Path, out: Path, workers: int) -> tuple[int, float]:
    cmd = [*command(inputs, out, workers), "--workers", str(workers), "-q"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, time.perf_counter() - t0


def killed_run(
    inputs: Path, out: Path, workers: int, mode: str, lines: int, extra: float
) -> dict[str, object]:
    """Start a batch; kill it (``mode``) once ``lines`` more are recorded, ``extra`` s later."""
    cmd = [*command(inputs, out, workers), "--workers", str(workers), "-q"]
    manifest = out / "manifest.jsonl"

    def recorded() -> int:
        return manifest.read_text().count("\n") if manifest.is_file() else 0

    start = recorded()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    kids: set[int] = set()
    deadline = None
    while proc.poll() is None:
        kids.update(children(proc.pid))
        if deadline is None and recorded() - start >= lines:
            deadline = time.perf_counter() + extra
        if deadline is not None and time.perf_counter() >= deadline:
            break
        time.sleep(0.02)
    after = time.perf_counter() - t0
    event: dict[str, object] = {"mode": mode, "after_s": round(after, 2)}
    if proc.poll() is not None:
        event["result"] = f"finished before the kill (exit {proc.returncode})"
        return event
    kids.update(children(proc.pid))
    busy = [k for k in kids if alive(k)]
    if mode == "group":
        os.killpg(proc.pid, signal.SIGKILL)
    elif mode == "driver":
        os.kill(proc.pid, signal.SIGKILL)
    else:
        # the busiest child is a worker (multiprocessing may add a resource tracker)
        def cpu(p: int) -> int:
            with contextlib.suppress(OSError):
                return int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[11])
            return 0

        os.kill(max(busy, key=cpu), signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    event["exit"] = proc.returncode
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 15 and any(alive(k) for k in kids):
        time.sleep(0.1)
    event["orphans"] = [k for k in kids if alive(k)]
    event["orphans_gone_after_s"] = round(time.perf_counter() - t0, 2)
    event["traceback"] = "Traceback" in err
    if event["traceback"]:
        event["stderr"] = err[-600:]
    for k in event["orphans"]:  # type: ignore[union-attr]
        with contextlib.suppress(OSError):
            os.kill(k, signal.SIGKILL)
    return event


def video_diff(a: Path, b: Path) -> int:
    """Largest pixel difference between two videos' decoded frames (-1: frame counts differ)."""
    with av.open(str(a)) as ca, av.open(str(b)) as cb:
        fa = [f.to_ndarray(format="gray") for f in ca.decode(video=0)]
        fb = [f.to_ndarray(format="gray") for f in cb.decode(video=0)]
    if len(fa) != len(fb):
        return -1
    return max(int(np.abs(x.astype(int) - y).max()) for x, y in zip(fa, fb, strict=True))


def compare(clean: Path, other: Path) -> tuple[list[str], list[str], int]:
    """CSV files that differ, videos whose bytes differ, and their largest pixel difference."""
    a, b = outputs(clean), outputs(other)
    names = sorted(a.keys() | b.keys())
    csv_differ = [n for n in names if n.endswith(".csv") and a.get(n) != b.get(n)]
    videos = [n for n in names if n.endswith(".mp4") and a.get(n) != b.get(n)]
    worst = 0
    for n in videos:
        if n not in a or n not in b:
            return csv_differ, videos, -1
        d = video_diff(clean / n, other / n)
        worst = -1 if d < 0 or worst < 0 else max(worst, d)
    return csv_differ, videos, worst


def outputs(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in ("manifest.jsonl", ".vidkeys.lock")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=50)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="Work in this folder and keep it.")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        if args.keep:
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
        inputs = root / "in"
        inputs.mkdir()
        for k in range(args.clips):
            make_clip(inputs / f"c{k:03d}.mp4", args.frames, k)
        code, clean_s = run(inputs, root / "clean", args.workers)
        print(f"clean run: exit {code}, {clean_s:.1f} s", flush=True)
        code, again_s = run(inputs, root / "clean2", args.workers)
        base_csv, base_videos, base_worst = compare(root / "clean", root / "clean2")
        print(
            f"second clean run: exit {code}, {again_s:.1f} s; against the first: "
            f"{len(base_csv)} CSVs differ, {len(base_videos)} videos differ in bytes "
            f"(largest pixel difference {base_worst})",
            flush=True,
        )
        faulty = root / "faulty"
        events = []
        from vidkeys.batch.manifest import read_manifest

        for k in range(args.kills):
            # a batch goes on after a worker dies, so that kill comes last
            mode = "worker" if k == args.kills - 1 else MODES[k % 2]
            done = sum(r.status in ("done", "skipped") for r in read_manifest(faulty).values())
            # the kill comes once a few more inputs are recorded (the "skipped"
            # lines of a resumed run count too), at a random moment after that
            lines = done + rng.randint(1, max(1, (args.clips - done) // 4))
            event = killed_run(inputs, faulty, args.workers, mode, lines, rng.uniform(0, 0.5))
            events.append(event)
            print(json.dumps(event), flush=True)
        code, resume_s = run(inputs, faulty, args.workers)
        print(f"final resume: exit {code}, {resume_s:.1f} s", flush=True)
        latest = read_manifest(faulty)
        states = [r.previous if r.status == "skipped" else r.status for r in latest.values()]
        csv_differ, videos, worst = compare(root / "clean", faulty)
        print(
            f"resumed run against the clean run: {len(csv_differ)} CSVs differ, "
            f"{len(videos)} videos differ in bytes (largest pixel difference {worst})"
        )
        if csv_differ:
            print(f"CSVs that differ: {csv_differ[:10]}")
        checks = {
            "every input done": len(latest) == args.clips and set(states) == {"done"},
            "every CSV identical to the clean run's": not csv_differ,
            "every annotated video byte-identical to the clean run's": not videos,
            "no .part left": not list(faulty.rglob(".*.part")),
            "no orphan process": all(not e.get("orphans") for e in events),
            "no traceback": not any(e.get("traceback") for e in events),
        }
        for name, ok in checks.items():
            print(f"{'ok  ' if ok else 'FAIL'} {name}")
        sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()

"""How many of the faces YuNet finds on every full frame the pipeline writes a row for.

    python benchmarks/bench_reference.py CLIP_OR_DIR ... [--cache DIR] [--repeat N]
        [-- EXTRA CLI OPTIONS, e.g. --detect-every 1]

A reference that needs no truth: the detector's whole search plan (every
scale and tile of :func:`vidkeys.faces.yunet.yunet_plan`) on every frame,
the most the pipeline's own detector can find. Its detections are linked into
faces over frames (boxes overlapping by half, gaps of up to 5 frames), and
faces seen on fewer than 3 frames are dropped as the detector's flickers.
Then ``vidkeys export-csv CLIP`` (start-up included) runs as a user runs it,
and per clip the script prints the share of reference detections with a row
on the same face (the row's box overlapping half of the smaller box), the
faces never given a row, how many frames after the reference's first sight
each face gets its first row (median and max), the rows on no reference face
(``extra``: the detector's misses the tracker follows, or false faces), and
the command's fps (best of ``--repeat`` runs) and CPU time a frame (both
cores, start-up included; a busy shared machine disturbs it less).

Every video of the given folders is scored, with truth or not; the reference
is cached per clip in ``--cache`` (it depends on the detector only).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidkeys.config import DetectorConfig
from vidkeys.faces.detect import overlap
from vidkeys.faces.search import face_search
from vidkeys.io.sources import VIDEO_EXTS, open_source

sys.path.insert(0, str(Path(__file__).parent))
from bench_recall import run_clip

#: Reference boxes overlapping a row's (of the smaller) this much are one face.
SAME = 0.5
#: A reference face is linked across at most this many frames without a detection.
GAP = 5
#: Reference faces seen on fewer frames are the detector's flickers.
MIN_FRAMES = 3
#: A reference face needs this YuNet score on one frame at least: YuNet's
#: false faces (a poster, a hand) stay under it.
SURE = 0.6


@dataclass
class Reference:
    """YuNet's whole plan on every frame: per detection its frame, box and face."""

    frame: np.ndarray  # (n,)
    box: np.ndarray  # (n, 4)
    score: np.ndarray  # (n,)
    face: np.ndarray  # (n,) linked face number
    frames: int


def detect_all(clip: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Every frame's detections with the whole plan: frame indices, boxes, scores, frame count."""
    search = face_search(DetectorConfig())
    frames, boxes, scores, count = [], [], [], 0
    with open_source(clip, gray=True) as source:
        for frame in source:
            found = search(frame.gray)
            frames += [frame.index] * len(found)
            boxes += list(found.boxes)
            scores += list(found.scores)
            count += 1
    return (
        np.array(frames, np.int64),
        np.array(boxes, np.float64).reshape(-1, 4),
        np.array(scores, np.float64),
        count,
    )


def link(frames: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Face numbers for detections: each joins the face whose last box it overlaps most."""
    face = np.full(len(frames), -1, np.int64)
    last: dict[int, tuple[int, np.ndarray]] = {}
    for i in np.argsort(frames, kind="stable"):
        live = [(f, b) for f, (t, b) in last.items() if frames[i] - t <= GAP and t < frames[i]]
        best, best_overlap = -1, SAME
        for f, b in live:
            o = overlap(boxes[i], b)[0, 0]
            if o >= best_overlap:
                best, best_overlap = f, o
        if best < 0:
            best = len(last)
        face[i] = best
        last[best] = (int(frames[i]), boxes[i])
    return face


def reference(clip: Path, cache: Path | None) -> Reference:
    """The clip's reference, from ``cache`` when it is there."""
    key = hashlib.sha256(clip.read_bytes()).hexdigest()[:16]
    cached = cache / f"{clip.stem}-{key}.npz" if cache else None
    if cached is not None and cached.is_file():
        data = np.load(cached)
        frames, boxes, scores = data["frame"], data["box"], data["score"]
        count = int(data["frames"])
    else:
        frames, boxes, scores, count = detect_all(clip)
        if cached is not None:
            cache.mkdir(parents=True, exist_ok=True)
            np.savez(cached, frame=frames, box=boxes, score=scores, frames=count)
    face = link(frames, boxes)
    ids = np.unique(face)
    seen = np.array([(face == i).sum() for i in ids])
    best = np.array([scores[face == i].max() for i in ids])
    keep = np.isin(face, ids[(seen >= MIN_FRAMES) & (best >= SURE)])
    return Reference(frames[keep], boxes[keep], scores[keep], face[keep], count)


def score(ref: Reference, rows: dict) -> dict[str, float]:
    """Share of reference detections with a row, faces never found, lateness, extra rows."""
    covered = np.zeros(len(ref.frame), bool)
    extra = 0
    for f in np.unique(np.concatenate([ref.frame, np.array(list(rows), np.int64)])):
        mine = np.flatnonzero(ref.frame == f)
        found = rows.get(int(f), [])
        if not found:
            continue
        theirs = np.stack([r.box for r in found])
        if len(mine):
            o = overlap(ref.box[mine], theirs)
            covered[mine] = o.max(axis=1) >= SAME
            extra += int((o.max(axis=0) < SAME).sum())
        else:
            extra += len(found)
    late, never = [], 0
    for face in np.unique(ref.face):
        idx = np.flatnonzero(ref.face == face)
        first = ref.frame[idx].min()
        hit = ref.frame[idx][covered[idx]]
        if len(hit):
            late.append(int(hit.min() - first))
        else:
            never += 1
    return {
        "faces": len(np.unique(ref.face)),
        "detections": len(ref.frame),
        "share": covered.mean() if len(covered) else float("nan"),
        "never": never,
        "late_med": float(np.median(late)) if late else float("nan"),
        "late_max": max(late) if late else 0,
        "extra": extra,
    }


def clips_of(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in VIDEO_EXTS)
        else:
            out.append(p)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="clips or folders of clips")
    parser.add_argument("--cache", type=Path, default=None, help="folder for the references")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per clip (best)")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    print(f"vidkeys export-csv {' '.join(extra)}".rstrip())
    print(
        f"{'clip':24s} {'size':>9s} {'faces':>5s} {'dets':>6s} {'rows %':>6s} {'never':>5s}"
        f" {'late med/max':>12s} {'extra':>5s} {'fps':>6s} {'cpu ms':>6s}"
    )
    total_cov = total = 0.0
    never = 0
    lates: list[int] = []
    for clip in clips_of(args.paths):
        ref = reference(clip, args.cache)
        rows, seconds, cpu = run_clip(clip, extra, args.repeat)
        s = score(ref, rows)
        with open_source(clip, gray=True) as src:
            size = f"{src.info.width}x{src.info.height}"
        print(
            f"{clip.stem[:24]:24s} {size:>9s} {s['faces']:5d} {s['detections']:6d}"
            f" {100 * s['share']:6.1f} {s['never']:5d}"
            f" {s['late_med']:7.1f}/{s['late_max']:4d} {s['extra']:5d}"
            f" {ref.frames / seconds:6.1f} {1000 * cpu / ref.frames:6.1f}",
            flush=True,
        )
        total_cov += s["share"] * s["detections"]
        total += s["detections"]
        never += s["never"]
        lates.append(s["late_max"])
    print(
        f"{'total':24s} {'':9s} {'':5s} {int(total):6d} {100 * total_cov / total:6.1f}"
        f" {never:5d} {'':>7s}/{max(lates):4d}"
    )


if __name__ == "__main__":
    main()

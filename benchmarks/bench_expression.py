"""Do the eye and mouth points move with the face? Blinks, eye opening and lip gap.

    python benchmarks/bench_expression.py [--videos DIR] [--data DIR]
        [--peers dlib mediapipe] [--python PEER_PYTHON] [--fast] [--only NAME ...]
        [--regions-model GRAPH] [--no-held-out]

Two parts, each skipped when its folder is not given:

**Real clips** (``--videos``, default ``$VIDKEYS_VIDEOS2``): every ``NAME.mp4``
(or other video) with a ``truth/NAME.json`` holding ``blinks`` checked by eye
(``winks``, ``mouth_closed`` optional). Each tool's main face (the one nearest
the truth's ``face_box_hint``, then nearest its previous place) gives per
frame the eye aspect ratio (EAR, mean of the two eyes; points 36-41, 42-47)
and the inner-lip gap (62-66 over the outer eye corners 36-45). One fixed
rule finds blinks in every tool's EAR: runs of 1-15 frames below 0.75 x the
clip's median, runs at most 2 frames apart merged; a run that comes within
2 frames of a true blink finds it, one that comes near none is false (a run
on a listed wink is neither). Printed per clip and in all: blinks found,
false blinks, EAR's and lip gap's Pearson r with MediaPipe's, and the median
lip gap on the truth's ``mouth_closed`` frames.

vidkeys' own blink rule (``--aus``, :mod:`vidkeys.keypoints.actions`) is
scored beside it, on the main face's ``AU45_c`` and blink events: each onset
of ``AU45_c`` (a frame where it turns 1) matches a true blink when it lies
within 2 frames of that blink's frames, each true blink matched once; an onset
on a listed wink is neither found nor false, every other onset is false.
Printed: true blinks found (recall), false onsets (precision), the events of
found blinks whose ``eyes`` is ``both``, the events on winks marked as one
eye, and ``AU25_c`` / ``AU26_c`` on the truth's shut-mouth and open-mouth frames.
``--sweep-shut V ...`` (and ``--sweep-eye-percentile Q ...``) replays each
clip's main face through the rule with other levels (``REOPEN`` 0.1 over
``SHUT``) and baselines, and prints the onsets found and false per clip for
each: how the shipped levels were chosen.

- vidkeys: ``vidkeys.process`` with default settings (``--fast``: no mirror test;
  ``--regions-model``: another eye and mouth graph, e.g. one trained without
  some clips, to score those clips as unseen).
- dlib 68 (HOG detector, upsampled once when the face is small, and the
  ERT shape predictor from Debian's ``libdlib-data``) and MediaPipe FaceMesh
  (0.10.21, video mode, refined eyes and lips; EAR from vertices 33, 160,
  158, 133, 153, 144 and 362, 385, 387, 263, 373, 380, lip gap 13-14 over
  33-263) run in the peers' venv (``--python``, default
  ``$VIDKEYS_PEERS_PYTHON``, else ``/tmp/peers-venv/bin/python``; set-up in
  ``bench_peers.py``), this file with ``--worker``. MediaPipe is the reference
  the r figures are taken against.

**Held-out labelled faces** (``--data``, default ``$VIDKEYS_DATA``): the
youtube-faces-68 people no training step saw, points placed as a new face's
from the face search's box. EAR's r with the labels' EAR and its spread
(standard deviation over the labels'), the mean EAR of the faces labelled
with shut eyes (label EAR < 0.15) against their labels', and the median lip
gap of the faces labelled with shut lips (label gap < 0.01).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_PEER_PYTHON = "/tmp/peers-venv/bin/python"
DLIB_MODEL = Path("/usr/share/dlib/shape_predictor_68_face_landmarks.dat")
#: The fixed blink rule: EAR below this share of the clip's median ...
BLINK_SHARE = 0.75
#: ... for 1 to this many frames; runs at most MERGE_GAP frames apart are one.
BLINK_LONGEST = 15
MERGE_GAP = 2
#: A found run and a true blink match when they come within this many frames.
MATCH_SLACK = 2
#: MediaPipe FaceMesh vertices of the six EAR points of each eye, and of the lip gap.
MESH_EYES = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))
MESH_LIPS, MESH_CORNERS = (13, 14), (33, 263)
#: Held-out faces' labels read as shut eyes / shut lips below these.
SHUT_EYE_EAR, SHUT_LIPS_GAP = 0.15, 0.01
TOOLS = ("vidkeys", "dlib", "mediapipe")


# --- measures on 68 points ----------------------------------------------------------------


def ear_68(points: np.ndarray) -> np.ndarray:
    """Mean EAR of the two eyes of ``(n, 68, 2)`` points (NaN rows stay NaN)."""
    from vidkeys.keypoints.features import eye_opening

    return eye_opening(points)


def lip_gap_68(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap (62-66) over the outer eye corners (36-45)."""
    from vidkeys.keypoints.features import lip_gap

    return lip_gap(points)


# --- blinks -------------------------------------------------------------------------------


def find_blinks(ear: np.ndarray) -> list[tuple[int, int]]:
    """Runs ``(first, last)`` of the fixed rule in one clip's per-frame EAR (NaN: no face)."""
    below = np.nan_to_num(ear, nan=np.inf) < BLINK_SHARE * np.nanmedian(ear)
    runs: list[list[int]] = []
    for i in np.flatnonzero(below).tolist():
        if runs and i - runs[-1][1] <= MERGE_GAP + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [(a, b) for a, b in runs if b - a + 1 <= BLINK_LONGEST]


def near(run: tuple[int, int], other: tuple[int, int]) -> bool:
    """Whether two frame runs come within :data:`MATCH_SLACK` frames of each other."""
    return run[0] <= other[1] + MATCH_SLACK and other[0] <= run[1] + MATCH_SLACK


def score_blinks(
    found: list[tuple[int, int]], truth: list[tuple[int, int]], winks: list[tuple[int, int]]
) -> tuple[int, int, int]:
    """True blinks found, found runs that are false, and true blinks in all."""
    hits = sum(any(near(f, t) for f in found) for t in truth)
    false = sum(
        not any(near(f, t) for t in truth) and not any(near(f, w) for w in winks) for f in found
    )
    return hits, false, len(truth)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r over the frames where both have a value."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def frames_in(runs: list[list[int]], n: int) -> np.ndarray:
    """A boolean mask of ``n`` frames, true inside the inclusive ``runs``."""
    mask = np.zeros(n, bool)
    for a, b in runs:
        mask[a : b + 1] = True
    return mask


# --- the peers' worker: runs in their venv (numpy, cv2, mediapipe, dlib) ----------------


def _mesh_measures(marks: np.ndarray) -> tuple[float, float]:
    def dist(a: int, b: int) -> float:
        return float(np.linalg.norm(marks[a] - marks[b]))

    ears = [(dist(e[1], e[5]) + dist(e[2], e[4])) / (2 * dist(e[0], e[3])) for e in MESH_EYES]
    return float(np.mean(ears)), dist(*MESH_LIPS) / dist(*MESH_CORNERS)


def worker(video: Path, hint: list[float], peers: list[str], dst: Path) -> None:
    """Per frame of ``video``: MediaPipe's EAR and lip gap, dlib's 68 points."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    mesh = dlib_detect = dlib_shape = None
    if "mediapipe" in peers:
        import mediapipe as mp

        mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=True
        )
    if "dlib" in peers:
        import dlib

        dlib_detect = dlib.get_frontal_face_detector()
        dlib_shape = dlib.shape_predictor(str(DLIB_MODEL))
    centre = np.array([hint[0] + hint[2] / 2, hint[1] + hint[3] / 2])
    upsample = 1 if hint[2] < 160 else 0
    mp_rows, dlib_rows, seconds = [], [], {"mediapipe": 0.0, "dlib": 0.0}
    last_rect = None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        if mesh is not None:
            t0 = time.perf_counter()
            result = mesh.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            seconds["mediapipe"] += time.perf_counter() - t0
            if result.multi_face_landmarks:
                lm = result.multi_face_landmarks[0].landmark
                marks = np.array([(p.x * w, p.y * h) for p in lm])
                mp_rows.append(_mesh_measures(marks))
            else:
                mp_rows.append((np.nan, np.nan))
        if dlib_detect is not None:
            t0 = time.perf_counter()
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            rects = dlib_detect(gray, upsample)
            if len(rects):
                mids = np.array(
                    [((r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2) for r in rects]
                )
                last_rect = rects[int(np.argmin(np.linalg.norm(mids - centre, axis=1)))]
            if last_rect is None:
                dlib_rows.append(np.full((68, 2), np.nan))
            else:
                shape = dlib_shape(gray, last_rect)
                pts = np.array([(p.x, p.y) for p in shape.parts()], float)
                centre = pts.mean(axis=0)
                dlib_rows.append(pts)
            seconds["dlib"] += time.perf_counter() - t0
    out: dict[str, np.ndarray] = {}
    if mesh is not None:
        out["mediapipe"] = np.array(mp_rows, float).reshape(-1, 2)
        out["mediapipe_s"] = np.array(seconds["mediapipe"])
    if dlib_detect is not None:
        out["dlib"] = np.array(dlib_rows, float).reshape(-1, 68, 2)
        out["dlib_s"] = np.array(seconds["dlib"])
    np.savez(dst, **out)


def run_peers(video: Path, hint: list[float], peers: list[str], python: str) -> dict:
    """The worker's arrays for one clip, run under the peers' python."""
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "peers.npz"
        cmd = [
            python,
            __file__,
            "--worker",
            str(video),
            json.dumps(hint),
            ",".join(peers),
            str(dst),
        ]
        subprocess.run(cmd, check=True)
        return dict(np.load(dst))


# --- vidkeys --------------------------------------------------------------------------------


@dataclass
class VidkeysRun:
    """The main face per frame: its points (NaN where none), action units and blinks."""

    points: np.ndarray  # (n, 68, 2)
    au: dict[str, np.ndarray]  # AU25_c, AU26_c, AU45_c per frame (0 where no face)
    blinks: list  # vidkeys.results.Blink of the main face's ids
    seconds: float
    face_id: np.ndarray  # (n,) the main face's id, -1 where none
    confidence: np.ndarray  # (n,)
    times: np.ndarray  # (n,) seconds
    openness: np.ndarray  # (n, 2) eye_open_right, eye_open_left (NaN where no face)


def run_vidkeys(video: Path, hint: list[float], fast: bool, **extra: object) -> VidkeysRun:
    """The main face (nearest the hint, then its previous place) through ``vidkeys.process``."""
    import vidkeys
    from vidkeys.keypoints.actions import AU_PRESENCE

    centre = np.array([hint[0] + hint[2] / 2, hint[1] + hint[3] / 2])
    rows, units, blinks, ids, faces, eyes = [], [], [], set(), [], []
    t0 = time.perf_counter()
    options: dict[str, object] = {"mirror_test": False} if fast else {}
    options.update(extra, aus=True)
    for frame in vidkeys.process(str(video), **options):
        blinks += [b for b in frame.blinks if b.face_id in ids]
        pts = frame.faces.points
        if len(pts) == 0:
            rows.append(np.full((68, 2), np.nan))
            units.append((0, 0, 0))
            faces.append((-1, np.nan, frame.timestamp))
            eyes.append((np.nan, np.nan))
            continue
        i = int(np.argmin(np.linalg.norm(pts.mean(axis=1) - centre, axis=1)))
        centre = pts[i].mean(axis=0)
        rows.append(pts[i])
        ids.add(int(frame.faces.face_id[i]))
        faces.append((int(frame.faces.face_id[i]), frame.faces.confidence[i], frame.timestamp))
        eyes.append(tuple(frame.faces.aus[k][i] for k in ("eye_open_right", "eye_open_left")))
        units.append(tuple(int(frame.faces.aus[k][i]) for k in AU_PRESENCE))
    au = dict(zip(AU_PRESENCE, np.array(units, int).reshape(-1, 3).T, strict=True))
    seconds = time.perf_counter() - t0
    face_id, conf, times = (np.array(c) for c in zip(*faces, strict=True))
    points = np.array(rows, float).reshape(-1, 68, 2)
    openness = np.array(eyes, float).reshape(-1, 2)
    return VidkeysRun(points, au, blinks, seconds, face_id, conf, times, openness)


def deepest(run: VidkeysRun, blink) -> tuple[float, float]:
    """The eyes at a closure's frame where one eye is most shut: (that eye, the other)."""
    eyes = run.openness[blink.start : blink.end + 1]
    k = int(np.nanargmin(eyes.min(axis=1)))
    return float(eyes[k].min()), float(eyes[k].max())


def replay_au45(run: VidkeysRun, shut: float, percentile: float) -> np.ndarray:
    """``AU45_c`` of the main face again, with the rule's levels and eye baseline changed."""
    from vidkeys.keypoints import actions
    from vidkeys.results import Faces

    saved = actions.SHUT, actions.REOPEN, actions.EYE_PERCENTILE
    actions.SHUT, actions.REOPEN, actions.EYE_PERCENTILE = shut, shut + 0.1, percentile
    try:
        rule, out, blank = actions.ActionUnits(), np.zeros(len(run.points), int), np.zeros((1, 3))
        for k in np.flatnonzero(run.face_id >= 0):
            face = Faces(
                run.face_id[k : k + 1],
                np.zeros((1, 4)),
                run.points[k : k + 1],
                run.confidence[k : k + 1],
                blank,
                blank,
                np.zeros((1, 68)),
            )
            out[k] = rule(int(k), float(run.times[k]), face)[0].aus["AU45_c"][0]
        return out
    finally:
        actions.SHUT, actions.REOPEN, actions.EYE_PERCENTILE = saved


def print_sweep(replays: dict[str, tuple[dict, VidkeysRun]], shuts, percentiles) -> None:
    """Per clip, true blinks found / false onsets of ``AU45_c`` at each level and baseline."""
    names = list(replays)
    print("sweep: AU45_c onsets found/false per clip")
    print(f"  {'percentile':>10s} {'SHUT':>5s}  " + "  ".join(f"{n:>8s}" for n in names))
    for q in percentiles:
        for shut in shuts:
            cells = []
            for truth, run in replays.values():
                presence = replay_au45(run, shut, q)
                hits, false = score_au45(
                    presence,
                    [tuple(b) for b in truth["blinks"]],
                    [tuple(w) for w in truth.get("winks", [])],
                )
                cells.append(f"{hits:>2d}/{len(truth['blinks'])} f{false}")
            print(f"  {q:>10g} {shut:>5.3g}  " + "  ".join(f"{c:>8s}" for c in cells), flush=True)


def onsets(presence: np.ndarray) -> list[int]:
    """Frames where a 0/1 series turns 1."""
    on = np.asarray(presence) > 0
    return np.flatnonzero(on & ~np.concatenate([[False], on[:-1]])).tolist()


def within(frame: int, run: tuple[int, int]) -> bool:
    """Whether a frame lies within :data:`MATCH_SLACK` frames of a run."""
    return run[0] - MATCH_SLACK <= frame <= run[1] + MATCH_SLACK


def score_au45(
    presence: np.ndarray, truth: list[tuple[int, int]], winks: list[tuple[int, int]]
) -> tuple[int, int]:
    """True blinks matched by an ``AU45_c`` onset (each once), and false onsets."""
    matched: set[int] = set()
    false = 0
    for frame in onsets(presence):
        free = [k for k, t in enumerate(truth) if within(frame, t) and k not in matched]
        if free:
            matched.add(free[0])
        elif not any(within(frame, w) for w in winks):
            false += 1
    return len(matched), false


def au_figures(truth: dict, run: VidkeysRun) -> dict:
    """vidkeys' AU45 onsets and events, and AU25/AU26 on the truth's mouth frames."""
    from vidkeys.keypoints.actions import WINK_SHUT

    blinks = [tuple(b) for b in truth["blinks"]]
    winks = [tuple(w) for w in truth.get("winks", [])]
    hits, false = score_au45(run.au["AU45_c"], blinks, winks)
    found = [b for b in run.blinks if any(within(b.start, t) for t in blinks)]
    on_winks = [b for b in run.blinks if any(within(b.start, w) for w in winks)]
    n = len(run.points)
    shut = frames_in(truth.get("mouth_closed", []), n)
    wide = frames_in(truth.get("mouth_open", []), n)
    return {
        "au_hits": hits,
        "au_false": false,
        "both": sum(b.eyes == "both" for b in found),
        "found_events": len(found),
        "winks": len(winks),
        "winks_found": len(on_winks),
        "winks_one_eye": sum(b.eyes != "both" for b in on_winks),
        # What the wink rule reads: the other eye where one eye is most shut
        # (of the blinks with an eye under WINK_SHUT: the ones a wink could be).
        "blink_other": max(
            (o for s, o in (deepest(run, b) for b in found) if s < WINK_SHUT),
            default=float("nan"),
        ),
        "wink_eyes": [deepest(run, b) for b in on_winks],
        "au25_shut": run.au["AU25_c"][shut].mean() if shut.any() else float("nan"),
        "au25_wide": run.au["AU25_c"][wide].mean() if wide.any() else float("nan"),
        "au26_shut": run.au["AU26_c"][shut].mean() if shut.any() else float("nan"),
        "au26_wide": run.au["AU26_c"][wide].mean() if wide.any() else float("nan"),
    }


def finite(reduce: Callable[[np.ndarray], float], values: list[float]) -> float:
    """``reduce`` over the finite values; NaN when there are none (no MediaPipe run)."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    return float(reduce(x)) if len(x) else float("nan")


def print_au(label: str, fig: dict) -> None:
    """One line of :func:`au_figures`' figures."""
    onsets = fig["au_hits"] + fig["au_false"]
    precision = f"{100 * fig['au_hits'] / onsets:.0f} %" if onsets else "-"
    print(
        f"  {label:9s} AU45_c onsets {fig['au_hits']:2d}/{fig['blinks']:2d}"
        f" ({100 * fig['au_hits'] / max(fig['blinks'], 1):.0f} %) false {fig['au_false']:2d}"
        f" (precision {precision}); events of found blinks on both eyes"
        f" {fig['both']}/{fig['found_events']}; winks {fig['winks_found']}/{fig['winks']} seen,"
        f" {fig['winks_one_eye']} as one eye; AU25_c shut/open mouth"
        f" {fig['au25_shut']:.2f}/{fig['au25_wide']:.2f}, AU26_c"
        f" {fig['au26_shut']:.2f}/{fig['au26_wide']:.2f}",
        flush=True,
    )
    winks = ", ".join(f"{shut:.2f}/{other:.2f}" for shut, other in fig["wink_eyes"])
    print(
        f"  {'':9s} where one eye is most shut: the other eye in blinks at most"
        f" {fig['blink_other']:.2f}; winks' shut/other eye {winks or '-'}",
        flush=True,
    )


def clip_figures(truth: dict, ear: np.ndarray, gap: np.ndarray, mp: np.ndarray | None) -> dict:
    """One tool's figures on one clip (``mp``: MediaPipe's EAR and gap per frame)."""
    n = len(ear)
    found = find_blinks(ear)
    hits, false, total = score_blinks(
        found, [tuple(b) for b in truth["blinks"]], [tuple(w) for w in truth.get("winks", [])]
    )
    closed = frames_in(truth.get("mouth_closed", []), n)
    return {
        "hits": hits,
        "false": false,
        "blinks": total,
        "ear_r": pearson(ear, mp[:n, 0]) if mp is not None else float("nan"),
        "gap_r": pearson(gap, mp[:n, 1]) if mp is not None else float("nan"),
        "closed_gap": float(np.nanmedian(gap[closed])) if closed.any() else float("nan"),
        "closed_frames": int(closed.sum()),
    }


def bench_clips(
    folder: Path,
    tools: list[str],
    python: str,
    fast: bool,
    only: list[str],
    extra: dict,
    sweep: tuple[list[float], list[float]] = ([], []),
) -> None:
    rows: dict[str, list[dict]] = {t: [] for t in tools}
    aus: list[dict] = []
    replays: dict[str, tuple[dict, VidkeysRun]] = {}
    for truth_file in sorted((folder / "truth").glob("*.json")):
        truth = json.loads(truth_file.read_text())
        video = folder / truth.get("clip", truth_file.stem + ".mp4")
        if (only and video.stem not in only) or not video.is_file():
            continue
        hint = truth["face_box_hint"]
        peers = [t for t in tools if t != "vidkeys"]
        peer = run_peers(video, hint, peers, python) if peers else {}
        mp = peer.get("mediapipe")
        series = {}
        au = None
        if "vidkeys" in tools:
            run = run_vidkeys(video, hint, fast, **extra)
            series["vidkeys"] = (ear_68(run.points), lip_gap_68(run.points), run.seconds)
            au = {"blinks": len(truth["blinks"]), **au_figures(truth, run)}
            replays[video.stem] = (truth, run)
        if "dlib" in tools:
            series["dlib"] = (ear_68(peer["dlib"]), lip_gap_68(peer["dlib"]), float(peer["dlib_s"]))
        if mp is not None:
            series["mediapipe"] = (mp[:, 0], mp[:, 1], float(peer["mediapipe_s"]))
        print(f"{video.name} ({len(truth['blinks'])} blinks)")
        for tool in tools:
            ear, gap, sec = series[tool]
            fig = clip_figures(truth, ear, gap, mp)
            rows[tool].append(fig)
            print(
                f"  {tool:9s} blinks {fig['hits']:2d}/{fig['blinks']:2d} false {fig['false']:2d}"
                f"  EAR r {fig['ear_r']:5.2f}  gap r {fig['gap_r']:5.2f}"
                f"  shut-lip gap {fig['closed_gap']:.3f} ({fig['closed_frames']} frames)"
                f"  {len(ear) / sec:5.1f} fps",
                flush=True,
            )
        if au is not None:
            aus.append(au)
            print_au("AU45", au)
    print("all clips")
    for tool in tools:
        r = rows[tool]
        if not r:
            continue
        hits, false, total = (sum(x[k] for x in r) for k in ("hits", "false", "blinks"))
        found = hits + false
        closed = [x["closed_gap"] for x in r if x["closed_frames"]]
        print(
            f"  {tool:9s} blinks found {hits}/{total} ({100 * hits / max(total, 1):.0f} %),"
            f" precision {100 * hits / max(found, 1):.0f} %"
            f"  EAR r mean {finite(np.mean, [x['ear_r'] for x in r]):.2f}"
            f" (min {finite(np.min, [x['ear_r'] for x in r]):.2f})"
            f"  gap r mean {finite(np.mean, [x['gap_r'] for x in r]):.2f}"
            f"  shut-lip gap median of clips {np.median(closed) if closed else float('nan'):.3f}"
        )
    if aus:
        counts = ("blinks", "au_hits", "au_false", "both", "found_events")
        total: dict = {k: sum(a[k] for a in aus) for k in (*counts, "winks", "winks_found")}
        total["winks_one_eye"] = sum(a["winks_one_eye"] for a in aus)
        total["blink_other"] = finite(np.max, [a["blink_other"] for a in aus])
        total["wink_eyes"] = [e for a in aus for e in a["wink_eyes"]]
        for k in ("au25_shut", "au25_wide", "au26_shut", "au26_wide"):
            total[k] = finite(np.mean, [a[k] for a in aus])  # the clips that have such frames
        print_au("AU45", total)
    if replays and (sweep[0] or sweep[1]):
        from vidkeys.keypoints import actions

        print_sweep(replays, sweep[0] or [actions.SHUT], sweep[1] or [actions.EYE_PERCENTILE])


# --- held-out labelled faces ----------------------------------------------------------------


def neighbour_pairs(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of image pairs ``PERSON_2k`` and ``PERSON_2k+1``: neighbouring frames of one
    video (the data's README), where the eyes are nearly alike, so how well two labels
    of them agree says how much of the labels' EAR is noise."""
    where = {n: i for i, n in enumerate(names)}
    pairs = []
    for name, i in where.items():
        stem, _, number = name.rpartition("_")
        num = number.split(".")[0]
        if num.isdigit() and int(num) % 2 == 0:
            j = where.get(f"{stem}_{int(num) + 1:0{len(num)}d}.{number.split('.', 1)[1]}")
            if j is not None:
                pairs.append((i, j))
    a, b = np.array(pairs, int).reshape(-1, 2).T
    return a, b


def bench_held_out(data: Path, fast: bool, regions_model: Path | None) -> None:
    from vidkeys.keypoints.predictor import KeypointPredictor
    from vidkeys.keypoints.regions import shared_refiner
    from vidkeys.training.data import held_out_people
    from vidkeys.training.evaluate import face_boxes, place_points

    samples, images = held_out_people(data)
    boxes = face_boxes(images, samples, "search")
    hit = [i for i, b in enumerate(boxes) if b is not None]
    predictor = KeypointPredictor(mirror_test=not fast)
    pts, _, _ = place_points(
        predictor,
        [images[i] for i in hit],
        [boxes[i] for i in hit],
        regions=shared_refiner(regions_model),
    )
    labels = np.stack([samples[i].points for i in hit]).astype(float)
    ear, ear_l = ear_68(pts), ear_68(labels)
    gap, gap_l = lip_gap_68(pts), lip_gap_68(labels)
    shut, lips = ear_l < SHUT_EYE_EAR, gap_l < SHUT_LIPS_GAP
    print(f"held-out people: {len(hit)} faces found of {len(samples)}")
    print(
        f"  EAR r {pearson(ear, ear_l):.2f},"
        f" spread {np.std(ear) / np.std(ear_l):.2f} of the labels'"
        f"; lip gap r {pearson(gap, gap_l):.2f}"
    )
    a, b = neighbour_pairs([samples[i].name for i in hit])
    print(
        f"  {len(a)} pairs of neighbouring frames (NAME_00 and _01, ...): the labels' EAR"
        f" agree at r {pearson(ear_l[a], ear_l[b]):.2f},"
        f" vidkeys' at r {pearson(ear[a], ear[b]):.2f}"
    )
    print(
        f"  {shut.sum()} faces labelled shut-eyed: EAR {ear[shut].mean():.3f}"
        f" (labels {ear_l[shut].mean():.3f});"
        f" {lips.sum()} labelled shut-lipped: gap median {np.median(gap[lips]):.3f}"
        f" (labels {np.median(gap_l[lips]):.3f})"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        video, hint, peers, dst = sys.argv[2:6]
        worker(Path(video), json.loads(hint), peers.split(","), Path(dst))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=os.environ.get("VIDKEYS_VIDEOS2"))
    parser.add_argument("--data", type=Path, default=os.environ.get("VIDKEYS_DATA"))
    parser.add_argument("--peers", nargs="*", default=["dlib", "mediapipe"])
    parser.add_argument(
        "--python", default=os.environ.get("VIDKEYS_PEERS_PYTHON", DEFAULT_PEER_PYTHON)
    )
    parser.add_argument("--fast", action="store_true", help="vidkeys without the mirror test")
    parser.add_argument(
        "--regions-model", type=Path, help="another eye and mouth graph (default: shipped)"
    )
    parser.add_argument("--only", nargs="*", default=[], help="clip names (no suffix)")
    parser.add_argument("--no-held-out", action="store_true")
    parser.add_argument(
        "--sweep-shut", nargs="*", type=float, default=[], help="AU45 levels to replay"
    )
    parser.add_argument(
        "--sweep-eye-percentile", nargs="*", type=float, default=[], help="eye baselines to replay"
    )
    args = parser.parse_args()
    if args.videos:
        tools = ["vidkeys", *[p for p in ("dlib", "mediapipe") if p in args.peers]]
        extra = {"regions_model": args.regions_model} if args.regions_model else {}
        sweep = (args.sweep_shut, args.sweep_eye_percentile)
        bench_clips(args.videos, tools, args.python, args.fast, args.only, extra, sweep)
    if args.data and not args.no_held_out:
        bench_held_out(args.data, args.fast, args.regions_model)


if __name__ == "__main__":
    main()

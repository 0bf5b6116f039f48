"""Scoring a run against per-frame truth: which faces were found, missed, or made up.

A truth file (``NAME.json``) holds, for every frame, the faces really in it::

    [[{"box": [x, y, w, h], "id": "track", "frontal": true, "ignore": false}, ...], ...]

``ignore`` marks faces nobody is blamed for finding or missing (tiny, out of
focus, half hidden). A found face matches a truth box when the mean of its 68
points lies inside the box or the boxes' IoU is >= 0.3, one to one; found
faces matched only to ``ignore`` boxes count neither way. This is how
``benchmarks/bench_recall.py`` and the real-footage tests score vidkeys, so
recall and precision mean the same thing in both.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidkeys.faces.track import iou

#: Truth face widths (px) the recall is broken down by: < 40, 40-80, > 80.
WIDTH_BINS = (40.0, 80.0)
MATCH_IOU = 0.3


@dataclass
class Found:
    """One face a run reported in one frame: its id, box, the mean of its points, and
    whether its points were marked trustworthy (the CSV's ``success``)."""

    face_id: int
    box: np.ndarray
    centre: np.ndarray
    success: bool = True


def load_truth(path: Path | str) -> list[list[dict]]:
    """The per-frame lists of truth faces in a truth file."""
    return json.loads(Path(path).read_text())


def match_frame(found: list[Found], truth: list[dict]) -> list[tuple[int, int]]:
    """One-to-one ``(found index, truth index)`` pairs for one frame.

    Greedy on a score that prefers real faces over ``ignore`` ones, then the
    centre-inside test, then overlap: a found face next to two truth boxes
    takes the one it covers best.
    """
    if not found or not truth:
        return []
    boxes = np.array([t["box"] for t in truth], np.float64)
    overlap = iou(np.stack([f.box for f in found]), boxes)
    centres = np.stack([f.centre for f in found])
    inside = (
        (centres[:, None, 0] >= boxes[:, 0])
        & (centres[:, None, 0] <= boxes[:, 0] + boxes[:, 2])
        & (centres[:, None, 1] >= boxes[:, 1])
        & (centres[:, None, 1] <= boxes[:, 1] + boxes[:, 3])
    )
    valid = inside | (overlap >= MATCH_IOU)
    real = np.array([not t.get("ignore", False) for t in truth])
    score = np.where(valid, overlap + inside + 10.0 * real[None, :], -1.0)
    pairs: list[tuple[int, int]] = []
    while True:
        i, j = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[i, j] < 0:
            return pairs
        pairs.append((int(i), int(j)))
        score[i, :] = -1.0
        score[:, j] = -1.0


@dataclass
class Score:
    """Counts over one clip (or several, added with ``+``)."""

    truth: int = 0
    matched: int = 0
    frontal: int = 0
    frontal_matched: int = 0
    #: Per width bin (< 40, 40-80, > 80 px): frontal faces and how many were found.
    frontal_bins: list[int] = field(default_factory=lambda: [0, 0, 0])
    frontal_bins_matched: list[int] = field(default_factory=lambda: [0, 0, 0])
    reported: int = 0
    reported_real: int = 0
    #: Frames from a truth track's first (non-ignored) frame to its first match.
    latencies: list[int] = field(default_factory=list)
    never: int = 0
    #: A face_id matched to more than one truth track, counted once per extra track.
    switches: int = 0
    #: Frontal truth faces found with ``success`` 1.
    frontal_success: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(
            self.truth + other.truth,
            self.matched + other.matched,
            self.frontal + other.frontal,
            self.frontal_matched + other.frontal_matched,
            [a + b for a, b in zip(self.frontal_bins, other.frontal_bins, strict=True)],
            [
                a + b
                for a, b in zip(self.frontal_bins_matched, other.frontal_bins_matched, strict=True)
            ],
            self.reported + other.reported,
            self.reported_real + other.reported_real,
            self.latencies + other.latencies,
            self.never + other.never,
            self.switches + other.switches,
            self.frontal_success + other.frontal_success,
        )

    @property
    def recall(self) -> float:
        """Share of real truth faces found."""
        return self.matched / self.truth if self.truth else float("nan")

    @property
    def frontal_recall(self) -> float:
        """Share of real frontal truth faces found."""
        return self.frontal_matched / self.frontal if self.frontal else float("nan")

    @property
    def frontal_success_rate(self) -> float:
        """Share of real frontal truth faces found with points marked trustworthy."""
        return self.frontal_success / self.frontal if self.frontal else float("nan")

    @property
    def precision(self) -> float:
        """Share of reported faces (not matched to ``ignore`` boxes) that are real faces."""
        return self.reported_real / self.reported if self.reported else float("nan")

    def bin_recall(self, k: int) -> float:
        """Frontal recall in width bin ``k`` (0: < 40 px, 1: 40-80, 2: > 80)."""
        n = self.frontal_bins[k]
        return self.frontal_bins_matched[k] / n if n else float("nan")


def _add(a: list[int], b: list[int]) -> list[int]:
    return [x + y for x, y in zip(a, b, strict=True)]


def score_run(frames: dict[int, list[Found]], truth: list[list[dict]]) -> Score:
    """Score a run's faces (by frame index) against a clip's truth."""
    score = Score()
    first_seen: dict[str, int] = {}
    first_found: dict[str, int] = {}
    people: dict[int, set[str]] = defaultdict(set)
    for index, faces in enumerate(truth):
        found = frames.get(index, [])
        pairs = dict((j, i) for i, j in match_frame(found, faces))
        ignored_found = {i for j, i in pairs.items() if faces[j].get("ignore", False)}
        score.reported += len(found) - len(ignored_found)
        for j, face in enumerate(faces):
            if face.get("ignore", False):
                continue
            hit = j in pairs
            score.truth += 1
            score.matched += hit
            score.reported_real += hit
            first_seen.setdefault(face["id"], index)
            if hit:
                first_found.setdefault(face["id"], index)
                people[found[pairs[j]].face_id].add(face["id"])
            if face.get("frontal", False):
                k = int(np.searchsorted(WIDTH_BINS, face["box"][2], side="right"))
                score.frontal += 1
                score.frontal_matched += hit
                score.frontal_success += hit and found[pairs[j]].success
                score.frontal_bins[k] += 1
                score.frontal_bins_matched[k] += hit
    for person, start in first_seen.items():
        if person in first_found:
            score.latencies.append(first_found[person] - start)
        else:
            score.never += 1
    score.switches = sum(len(ids) - 1 for ids in people.values())
    return score

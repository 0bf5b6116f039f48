"""Shut eyes, shut lips, eyes looking aside and wide mouths made from the faces the
eye and mouth networks learn from.

The labelled faces hold few shut eyes (6 of 345 held-out faces) and their
inner lips of shut mouths sit apart: a network trained on them alone reads
every eye as open. These warps close an open eye or mouth on its patch the
way the face does it, and move the labels with it:

- an eye: the upper lid comes down over the eyeball (rows from the patch top
  to the lid are stretched down, the lid's dark lash line lands on the new lid
  edge; the eyeball below stays where it is) and the lower lid rises a little;
- a mouth: the inner lips meet on a line between them; the upper lip is
  stretched down and the lower lip up over the gap, the outer lip edges move
  with them, the corners stay.

Two more warps make what the labelled faces and the teacher's clips hold
little of, where networks that never saw such a face erred on real clips
(lids drawn along a dark iris at an eye's corner; wide mouths read half
shut):

- an eye looking aside: what lies between the lids is pushed along the
  eye's axis, most in the middle and not at all at the corners or the lid
  edges, so the iris goes to one side and the lids and their points stay;
- a mouth opened wider: the inside of an open mouth is stretched down, the
  lower lip and the chin move down with it.

All work on one region's patch and its points in the patch's pixels, in the
order of :mod:`vidkeys.keypoints.regions` (an eye as a right eye: outer corner,
two upper lid points, inner corner, two lower lid points).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Of the opening that is left when the eye is shut: lids this far apart (MediaPipe
#: reads a shut eye at EAR about 0.05 of an open eye's 0.3).
SHUT_EAR_SHARE = 0.12


def _curve(xs: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """A lid or lip edge through ``pts`` (sorted by x), read at columns ``xs``."""
    order = np.argsort(pts[:, 0])
    return np.interp(xs, pts[order, 0], pts[order, 1])


def _column_warp(patch: np.ndarray, segments: list[tuple[np.ndarray, ...]]) -> np.ndarray:
    """A vertical warp per column: each segment ``(d0, d1, s0, s1)`` (per-column arrays)
    fills output rows ``[d0, d1]`` from input rows ``[s0, s1]``, linearly; rows in no
    segment stay as they are. Segments may jump (a lid edge covering the eyeball)."""
    h, w = patch.shape
    ys = np.broadcast_to(np.arange(h, dtype=np.float64)[:, None], (h, w))
    src = ys.copy()
    for d0, d1, s0, s1 in segments:
        d0, d1, s0, s1 = (
            np.broadcast_to(np.asarray(a, np.float64)[None], (h, w)) for a in (d0, d1, s0, s1)
        )
        inside = (ys >= d0) & (ys <= d1) & (d1 > d0)
        t = (ys - d0) / np.maximum(d1 - d0, 1e-6)
        src = np.where(inside, s0 + t * (s1 - s0), src)
    map_x = np.broadcast_to(np.arange(w, dtype=np.float32)[None], (h, w)).copy()
    return cv2.remap(
        patch, map_x, src.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _move(y: float, x: float, xs: np.ndarray, segment: tuple[np.ndarray, ...]) -> float:
    """Where a point at input row ``y``, column ``x``, lands under one warp segment."""
    d0, d1, s0, s1 = (float(np.interp(x, xs, a)) for a in segment)
    return d0 + (y - s0) * (d1 - d0) / (s1 - s0) if abs(s1 - s0) > 1e-6 else d0


def close_eye(patch: np.ndarray, pts: np.ndarray, amount: float) -> tuple[np.ndarray, np.ndarray]:
    """The eye of ``patch`` closed by ``amount`` (0 as it is, 1 shut), and its six points."""
    pts = np.asarray(pts, np.float64)
    h, w = patch.shape
    xs = np.arange(w, dtype=np.float64)
    upper = _curve(xs, pts[[0, 1, 2, 3]])
    lower = _curve(xs, pts[[0, 5, 4, 3]])
    inside = (xs > pts[[0, 3], 0].min()) & (xs < pts[[0, 3], 0].max())
    opening = np.where(inside, np.maximum(lower - upper, 0.0), 0.0)
    shut_upper = lower - SHUT_EAR_SHARE * opening
    new_upper = upper + amount * (shut_upper - upper) * 0.93
    new_lower = lower - amount * 0.07 * opening
    lid_room = max(float(opening.max()), 1.0) * 2.5
    top = np.maximum(upper - lid_room, 0.0)
    bottom = np.minimum(lower + lid_room, h - 1.0)
    lid, ball, cheek = (
        (top, new_upper, top, upper),
        (new_upper, new_lower, new_upper, lower),
        (new_lower, bottom, lower, bottom),
    )
    out = _column_warp(patch, [lid, ball, cheek])
    moved = pts.copy()
    for i in (1, 2):
        moved[i, 1] = _move(pts[i, 1], pts[i, 0], xs, lid)
    for i in (4, 5):
        moved[i, 1] = _move(pts[i, 1], pts[i, 0], xs, cheek)
    return out, moved


#: The mouth's points in patch order (48-67 less 48): corners, upper and lower edges.
OUTER_UPPER, OUTER_LOWER = [1, 2, 3, 4, 5], [7, 8, 9, 10, 11]
INNER_CORNERS, INNER_UPPER, INNER_LOWER = [12, 16], [13, 14, 15], [17, 18, 19]


def _inner_lips(pts: np.ndarray, w: int) -> tuple[np.ndarray, ...]:
    """Columns ``0..w-1``, the upper and lower inner lip edges read at them, and the gap
    between them (0 outside the inner corners)."""
    xs = np.arange(w, dtype=np.float64)
    corners = pts[INNER_CORNERS]
    upper = _curve(xs, np.vstack([corners, pts[INNER_UPPER]]))
    lower = _curve(xs, np.vstack([corners, pts[INNER_LOWER]]))
    inside = (xs > corners[:, 0].min()) & (xs < corners[:, 0].max())
    return xs, upper, lower, np.where(inside, np.maximum(lower - upper, 0.0), 0.0)


def close_mouth(
    patch: np.ndarray, pts: np.ndarray, amount: float, meet: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """The lips of ``patch`` brought together by ``amount`` (1: they meet, at ``meet``
    of the gap below the upper inner lip), and the 20 mouth points moved with them."""
    pts = np.asarray(pts, np.float64)
    h, w = patch.shape
    xs, upper, lower, gap = _inner_lips(pts, w)
    new_upper = upper + amount * meet * gap
    new_lower = lower - amount * (1.0 - meet) * gap
    lip, inner, chin = (
        (np.zeros(w), new_upper, np.zeros(w), upper),
        (new_upper, new_lower, upper, lower),
        (new_lower, np.full(w, h - 1.0), lower, np.full(w, h - 1.0)),
    )
    out = _column_warp(patch, [lip, inner, chin])
    moved = pts.copy()
    for idx, segment in ((INNER_UPPER + OUTER_UPPER, lip), (INNER_LOWER + OUTER_LOWER, chin)):
        for i in idx:
            moved[i, 1] = _move(pts[i, 1], pts[i, 0], xs, segment)
    return out, moved


def shift_gaze(patch: np.ndarray, pts: np.ndarray, amount: float) -> tuple[np.ndarray, np.ndarray]:
    """The eye of ``patch`` looking aside: what lies between the lids pushed along x by
    ``amount`` of a quarter of the eye's width at the middle (negative: the other way),
    fading to nothing at the corners and at the lid edges, which stay with their points."""
    pts = np.asarray(pts, np.float64)
    h, w = patch.shape
    xs = np.arange(w, dtype=np.float64)
    upper = _curve(xs, pts[[0, 1, 2, 3]])
    lower = _curve(xs, pts[[0, 5, 4, 3]])
    left, right = sorted(pts[[0, 3], 0])
    width = max(right - left, 1.0)
    ramp = max(0.25 * float((lower - upper).max()), 0.5)
    ys = np.arange(h, dtype=np.float64)[:, None]
    shift = 0.25 * width * amount

    def moved_by(x: np.ndarray) -> np.ndarray:
        up, low = np.interp(x, xs, upper), np.interp(x, xs, lower)
        inside = np.clip(np.minimum(ys - up, low - ys) / ramp, 0.0, 1.0)
        return shift * np.sin(np.pi * np.clip((x - left) / width, 0.0, 1.0)) * inside

    # Output column x shows input column s where s + moved_by(s) = x: a few fixed-point
    # steps from s = x.
    grid = np.broadcast_to(xs[None], (h, w))
    src = grid.copy()
    for _ in range(8):
        src = grid - moved_by(src)
    map_y = np.broadcast_to(ys, (h, w)).astype(np.float32)
    out = cv2.remap(
        patch, src.astype(np.float32), map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return out, pts.copy()


def open_mouth(patch: np.ndarray, pts: np.ndarray, amount: float) -> tuple[np.ndarray, np.ndarray]:
    """An open mouth of ``patch`` opened wider: the inner gap grown by ``amount`` of
    itself, the lower lip and chin pushed down (squeezed into the rows below), the
    corners still; the 20 mouth points moved with them."""
    pts = np.asarray(pts, np.float64)
    h, w = patch.shape
    xs, upper, lower, gap = _inner_lips(pts, w)
    # The chin keeps at least half of the rows it had below the lower lip.
    room = np.maximum(h - 1.0 - lower, 0.0)
    new_lower = lower + np.minimum(amount * gap, 0.5 * room)
    inner, chin = (
        (upper, new_lower, upper, lower),
        (new_lower, np.full(w, h - 1.0), lower, np.full(w, h - 1.0)),
    )
    out = _column_warp(patch, [inner, chin])
    moved = pts.copy()
    for i in INNER_LOWER + OUTER_LOWER:
        moved[i, 1] = _move(pts[i, 1], pts[i, 0], xs, chin)
    return out, moved
